"""The training baselines' settings for single requests, per model: ``hparams/<method>/<model>.yaml``
beside this module, written by ``benchmarks/tune_baselines.py`` from the dev split alone.

They apply to this benchmark only: the paper's tables train on a whole forget set at once, where one
request's learning rate would be wrong. ``--set`` values override them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HPARAMS = Path(__file__).resolve().parent / "hparams"


def tuned(method: str, model: str) -> dict[str, Any]:
    """The frozen dev-tuned settings of ``method`` on ``model`` (none when it has no file), checked
    against the method's config now, so that a bad file names itself."""
    from repair.eval.unlearners import METHODS

    path = HPARAMS / method / f"{model.replace('/', '__')}.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    try:
        METHODS[method].configure(None, **data)
    except (KeyError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from e
    return data
