"""STAMP-2's per-model hyperparameters: values in ``edit/hparams/stamp2/<model>.yaml``, read into the typed
``Stamp2Config`` (defined in ``edit/settings.py`` beside STAMP's, so that an edit record types it without
importing the engine)."""

from __future__ import annotations

from pathlib import Path

from repair.edit.hparams import hparams_path, read_hparams
from repair.edit.settings import Stamp2Config, VectorConfig

__all__ = ["HPARAMS", "Stamp2Config", "VectorConfig", "default_layers", "load_hparams"]

HPARAMS = Path(__file__).resolve().parent.parent / "hparams" / "stamp2"


def default_layers(n_layers: int) -> list[int]:
    """Early-mid band (about 13-27 % of depth), where MEMIT finds subject recall."""
    lo, hi = round(0.13 * n_layers), round(0.27 * n_layers)
    return list(range(lo, max(hi, lo) + 1))


def load_hparams(model: str, n_layers: int, **overrides: object) -> Stamp2Config:
    """The model's YAML file if there is one, else the relative default band; then ``overrides``."""
    base: dict[str, object] = {"layers": default_layers(n_layers)}
    base.update(
        read_hparams(hparams_path(HPARAMS, model), Stamp2Config.model_validate, "Stamp2Config fields")
    )
    return Stamp2Config.model_validate({**base, **overrides})
