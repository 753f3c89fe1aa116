"""The training baselines' settings for single requests, per model: ``hparams/<method>/<model>.yaml``
beside this module, written by ``benchmarks/tune_baselines.py`` from the dev split alone.

They apply to this benchmark only: the paper's tables train on a whole forget set at once, where one
request's learning rate would be wrong. ``--set`` values override them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repair.edit.hparams import hparams_path, read_hparams

HPARAMS = Path(__file__).resolve().parent / "hparams"


def tuned(method: str, model: str) -> dict[str, Any]:
    """The frozen dev-tuned settings of ``method`` on ``model`` (none when it has no file), checked
    against the method's config now, so that a bad file names itself."""
    from repair.eval.unlearners import METHODS

    return read_hparams(
        hparams_path(HPARAMS / method, model),
        lambda data: METHODS[method].configure(None, **data),
        "settings",
    )
