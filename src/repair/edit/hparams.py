"""One reader for the per-model settings files (EasyEdit-style ``hparams/<method>/<model>.yaml``): STAMP's,
STAMP-2's and the training baselines' dev-tuned values all go through it, so that a bad file always names
itself before any model work starts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def hparams_path(root: Path, model: str) -> Path:
    """``<root>/<model>.yaml``; a hub id's "/" becomes "__"."""
    return root / f"{model.replace('/', '__')}.yaml"


def read_hparams(path: Path, check: Callable[[dict[str, Any]], object], what: str) -> dict[str, Any]:
    """The mapping in ``path`` (empty when there is no file), passed to ``check`` now; a file that is not a
    mapping, or that ``check`` rejects (KeyError or ValueError, pydantic's included), raises a ValueError
    that starts with the file's path."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of {what}, got {type(data).__name__}")
    try:
        check(data)
    except (KeyError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from e
    return data
