"""The watchdog's shipped learned heads: JSON files in ``repair/data``, read once per path."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path


def data_path(name: str) -> Path:
    """``repair/data/<name>``."""
    return Path(__file__).resolve().parents[2] / "data" / name


@lru_cache(maxsize=8)
def load_head(path: str) -> dict:
    with open(path) as f:
        return json.load(f)
