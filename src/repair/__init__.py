"""repair: interactive machine unlearning with closed-form, reversible MLP edits (RePAIR / STAMP)."""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use, so that `repair --help` and `repair edits list` do not import torch.
_LAZY = {
    "StampConfig": "repair.edit.stamp",
    "prepare": "repair.edit.stamp",
    "stamp": "repair.edit.stamp",
    "Patient": "repair.edit.patient",
    "load": "repair.edit.patient",
    "Reply": "repair.session",
    "Session": "repair.session",
}
__all__ = ["Patient", "Reply", "Session", "StampConfig", "load", "prepare", "stamp"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'repair' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
