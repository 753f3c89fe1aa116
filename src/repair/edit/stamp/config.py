"""STAMP's settings for a model: the per-model YAML (``edit/hparams/stamp/<model>.yaml``, with the
measurements behind each value), overrides and ``--set`` keys. The typed models themselves
(``StampConfig`` = ``StampSpec`` + ``SearchPolicy``) live in ``edit/settings.py``, where an edit record
can type its config without importing the engine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from repair.edit.hparams import hparams_path, read_hparams
from repair.edit.settings import SearchPolicy, StampConfig, StampSpec

__all__ = [
    "HPARAMS",
    "SearchPolicy",
    "StampConfig",
    "StampSpec",
    "load_hparams",
    "make_config",
    "parse_overrides",
]

HPARAMS = Path(__file__).resolve().parent.parent / "hparams" / "stamp"


def load_hparams(model: str, root: Path = HPARAMS) -> dict[str, object]:
    """The settings in ``<root>/<model>.yaml`` (none if the model has no file), checked now: an unknown
    key or a bad value names the file instead of failing deep inside an edit."""
    return read_hparams(hparams_path(root, model), _check_stamp, "StampConfig fields")


def _check_stamp(data: dict[str, object]) -> None:
    unknown = sorted(set(data) - set(StampConfig.model_fields))
    if unknown:
        raise ValueError(
            f"unknown STAMP setting(s) {', '.join(unknown)}; known: {', '.join(StampConfig.model_fields)}"
        )
    StampConfig.model_validate(data)


def make_config(
    model: str | None, config: StampConfig | None = None, overrides: Mapping[str, object] | None = None
) -> StampConfig:
    """The model's YAML values, then the fields set on ``config``, then ``overrides``."""
    given = config.model_dump(exclude_unset=True) if config is not None else {}
    return StampConfig.model_validate(
        {**(load_hparams(model) if model else {}), **given, **(overrides or {})}
    )


def parse_overrides(items: Sequence[str]) -> dict[str, object]:
    """``["alpha_margin=1.5", "layers=[4,5]"]`` -> StampConfig overrides (JSON values, else strings).
    Unknown fields are an error here rather than deep inside an edit."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in StampConfig.model_fields:
            raise ValueError(
                f"bad override {item!r}: expected key=value with key one of "
                f"{', '.join(StampConfig.model_fields)}"
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
