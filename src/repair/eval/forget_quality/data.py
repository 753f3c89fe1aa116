"""The benchmark's target set: the dev/test split, and which targets each model knows.

The targets were written by hand (``repair/data/forget_quality/README.md``). ``split_of`` assigned
each to dev or test once, by a hash of its id, before any engine work; ``dev.jsonl`` and
``test.jsonl`` are the committed result. ``stress.jsonl`` is a third, separate set written for
sequential runs (100 edits and more); it is never held out and never reported as such.
``known/<model>.json`` records, per model, which probes
and neighbours the unedited model answers (greedy, float32): a target counts only when its direct
question is answered, and only answered probes and neighbours are scored.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .schema import Question, Target

Split = Literal["dev", "test", "stress"]
SPLITS: tuple[Split, ...] = ("dev", "test")  # the two halves of the held-out set, assigned by ``split_of``
STRESS: Split = "stress"  # the sequential runs' own set: disjoint from dev and test, never held out
ALL_SPLITS: tuple[Split, ...] = (*SPLITS, STRESS)
TEST_SHARE = 0.6  # of the written targets; the test split must keep >= 30 known targets per model
DATA = "forget_quality"
MAX_NEW_TOKENS = 48


def split_of(target_id: str) -> Literal["dev", "test"]:
    """dev or test, fixed by the id alone (so adding targets never moves an existing one)."""
    h = int(hashlib.sha256(f"repair-forget-quality:{target_id}".encode()).hexdigest()[:8], 16)
    return "test" if h / 0xFFFFFFFF < TEST_SHARE else "dev"


def _data_dir():
    return resources.files("repair.data").joinpath(DATA)


def load_targets(split: Split | str | Path) -> list[Target]:
    """The targets of a split ("dev", "test", "stress") or of a JSONL file in the same format."""
    path = Path(split)
    if str(split) in ALL_SPLITS:
        text = _data_dir().joinpath(f"{split}.jsonl").read_text(encoding="utf-8")
    elif path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        raise FileNotFoundError(f"no forget-quality split {split!r}: use dev, test, stress or a JSONL file")
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(Target.model_validate_json(line))
            except ValueError as e:
                raise ValueError(f"{split}:{i}: {e}") from e
    return out


def file_sha256(split: Split) -> str:
    return hashlib.sha256(_data_dir().joinpath(f"{split}.jsonl").read_bytes()).hexdigest()


class KnownTarget(BaseModel):
    probes: list[str]  # ids of the probes the unedited model answers
    neighbours: list[str]  # ids of the neighbours it answers


class KnownList(BaseModel):
    """Which targets one model knows, per split (made once by ``repair eval forget-quality --filter``)."""

    model: str
    dtype: str = "float32"
    max_new_tokens: int = MAX_NEW_TOKENS
    splits: dict[str, dict[str, KnownTarget]] = Field(default_factory=dict)
    sha256: dict[str, str] = Field(default_factory=dict)  # of each split file when it was filtered

    def known(self, split: str) -> dict[str, KnownTarget]:
        return self.splits.get(split, {})


def known_path(model: str) -> Path:
    return Path(str(_data_dir().joinpath("known"))) / f"{model}.json"


def load_known(model: str) -> KnownList | None:
    res = _data_dir().joinpath("known", f"{model}.json")
    return KnownList.model_validate_json(res.read_text()) if res.is_file() else None


def chat_history(q: Question) -> list[dict[str, str]]:
    return [t.model_dump() for t in q.history]
