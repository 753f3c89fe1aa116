"""Typed containers shared by every evaluation task.

A task is a list of question/answer items split evenly into a forget set D_f and a retain set D_r,
plus the text a Base model is fine-tuned on (D_f + D_r) and the text an Oracle is fine-tuned on
(D_r only), as in section 5.1 of the RePAIR paper.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Size = Literal["small", "paper"] | int
Metric = Literal["rouge", "accuracy"]


@dataclass(frozen=True)
class QA:
    """One question/answer item.

    prompt:     the user turn sent to the chat model.
    answer:     short gold answer, matched by normalised containment (`metrics.answer_match`).
    response:   full reference reply, used for fine-tuning and for ROUGE-L.
    paraphrase: one paraphrased prompt asking for the same fact (leak check).
    subject:    the entity the item is about (a person, a country, an element, an agent), so a
                request such as "forget everything about X" can be resolved against the task.
    meta:       task specific extras (e.g. the true answer of a corrupted fact).
    """

    prompt: str
    answer: str
    response: str
    paraphrase: str
    subject: str = ""
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def pair(self) -> tuple[str, str]:
        """The (prompt, response) forget pair that `repair.stamp` takes."""
        return (self.prompt, self.response)


@dataclass
class TaskData:
    """A built task. `forget` and `retain` are what is scored; `train_*` is what is fine-tuned on."""

    name: str
    seed: int
    size: str
    metric: Metric
    forget: list[QA]
    retain: list[QA]
    train_base: list[QA]
    train_oracle: list[QA]
    metadata: dict[str, Any] = field(default_factory=dict)
    # held-out items of the same kind, in neither split nor any training set: what an edit should not
    # touch although nothing names it (misinformation: true facts about other subjects); may be empty
    neighbours: list[QA] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskData:
        qa = ("forget", "retain", "train_base", "train_oracle", "neighbours")
        kw = {k: v for k, v in d.items() if k not in qa}
        return cls(**kw, **{k: [QA(**x) for x in d[k]] for k in qa if k in d})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TaskData:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def summary(self) -> str:
        return (
            f"{self.name} (seed={self.seed}, size={self.size}, metric={self.metric}): "
            f"|D_f|={len(self.forget)} |D_r|={len(self.retain)} "
            f"train_base={len(self.train_base)} train_oracle={len(self.train_oracle)}"
        )


def size_label(size: Size) -> str:
    return size if isinstance(size, str) else str(int(size))


def resolve_size(size: Size, small: int, paper: int) -> int:
    """Number of units (profiles, facts, agents) for a size name, or the integer given."""
    if isinstance(size, bool):  # bool is an int; refuse it rather than build a 1-unit task
        raise ValueError(f"bad size {size!r}")
    if isinstance(size, int):
        if size < 2:
            raise ValueError("size must be at least 2 so that both D_f and D_r are non-empty")
        return size
    if size == "small":
        return small
    if size == "paper":
        return paper
    raise ValueError(f"unknown size {size!r}: use 'small', 'paper' or an integer")


def rng_for(task: str, seed: int) -> random.Random:
    # A string seed goes through sha512 in `random`, so it does not depend on PYTHONHASHSEED.
    return random.Random(f"repair-eval:{task}:{seed}")
