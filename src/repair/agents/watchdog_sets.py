"""The hand-written watchdog sets (``repair/data/watchdog_v2``): schema, loader and exact scoring.

``test.jsonl``, ``test2.jsonl`` and ``test3.jsonl`` are held-out sets (never edited, never used for tuning); ``dev.jsonl``, ``dev2.jsonl`` and
``dev3.jsonl``, ``dev4.jsonl``, ``dev5.jsonl``, ``dev6.jsonl``, ``dev7.jsonl`` are for tuning and tests. See ``repair/data/watchdog_v2/README.md``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from repair.eval.forget_quality.schema import Turn  # one chat-turn model for both sets

Split = Literal["dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "test", "test2", "test3"]
SPLITS: tuple[str, ...] = Split.__args__  # type: ignore[attr-defined]
RequestClass = Literal["that_noun", "self_named", "formal", "correction", "named", "history_scope"]
ChatClass = Literal["chat_plain", "hard_negative"]
REQUEST_CLASSES: tuple[str, ...] = RequestClass.__args__  # type: ignore[attr-defined]


class Gold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    turns: list[int]  # 0-based indices among the history's user turns whose answer is to be forgotten
    subject: str | None
    aliases: list[str] = Field(default_factory=list)


class Dialogue(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: str = Field(pattern=r"^(?:d|d7|t|t2|t3)-\d{4}$")
    lang: str = Field(pattern=r"^[a-z]{2}$")
    cls: RequestClass | ChatClass = Field(alias="class")
    history: list[Turn] = Field(max_length=8)
    message: str = Field(min_length=1)
    intent: Literal["unlearn", "chat"]
    gold: Gold | None

    @property
    def user_turns(self) -> list[str]:
        return [m.content for m in self.history if m.role == "user"]

    @model_validator(mode="after")
    def _consistent(self) -> Dialogue:
        roles = [m.role for m in self.history]
        if roles != ["user", "assistant"] * (len(roles) // 2):
            raise ValueError(f"{self.id}: history must alternate user/assistant, starting with user")
        users = self.user_turns
        if len(set(users)) != len(users):
            raise ValueError(f"{self.id}: user turns must differ (turns are matched by text)")
        if (self.intent == "unlearn") != (self.cls in REQUEST_CLASSES):
            raise ValueError(f"{self.id}: intent {self.intent} does not fit class {self.cls}")
        if self.intent == "chat":
            if self.gold is not None:
                raise ValueError(f"{self.id}: chat dialogues have no gold")
            return self
        if self.gold is None or not (self.gold.turns or self.gold.subject):
            raise ValueError(f"{self.id}: a request needs gold turns or a gold subject")
        turns = self.gold.turns
        if len(set(turns)) != len(turns) or any(not 0 <= t < len(users) for t in turns):
            raise ValueError(f"{self.id}: gold turns {turns} repeat or fall outside {len(users)} user turns")
        return self


def parse_lines(lines: Iterable[str], name: str = "<set>") -> list[Dialogue]:
    out = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(Dialogue.model_validate(json.loads(line)))
        except (ValueError, json.JSONDecodeError) as e:
            raise ValueError(f"{name}:{i}: {e}") from e
    return out


def load_set(split: Split) -> list[Dialogue]:
    """Every dialogue of ``watchdog_v2/<split>.jsonl``, validated."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (one of {', '.join(SPLITS)})")
    res = resources.files("repair.data") / "watchdog_v2" / f"{split}.jsonl"
    return parse_lines(res.read_text(encoding="utf-8").splitlines(), f"watchdog_v2/{split}.jsonl")


# ----------------------------------------------------------------------------------------------------
# Exact scoring
# ----------------------------------------------------------------------------------------------------
_ARTICLES = {"the", "a", "an", "le", "la", "les", "l", "der", "die", "das", "el", "los", "las", "il", "lo"}


def norm_name(s: str | None) -> str:
    """Lower-cased, punctuation to spaces, leading articles dropped: "The Copper Kettle." -> "copper kettle"."""
    s = unicodedata.normalize("NFKC", s or "").casefold().replace("’", "'")
    words = re.sub(r"[^\w]+", " ", s).split()
    while words and words[0] in _ARTICLES and len(words) > 1:
        words = words[1:]
    return " ".join(words)


def predicted_turns(d: Dialogue, pairs: Sequence[Sequence[str]]) -> set[int]:
    """Indices of the history's user turns among the predicted (prompt, response) pairs, matched by text."""
    want = {str(p[0]).strip() for p in pairs if p}
    return {i for i, u in enumerate(d.user_turns) if u.strip() in want}


def target_right(d: Dialogue, target: str | None, pairs: Sequence[Sequence[str]]) -> bool:
    """Whether a predicted request resolves exactly to the gold.

    Right when the history turns it takes are exactly the gold turns, or when its target is the gold
    subject (or an alias, after `norm_name`) and it takes no history turn outside the gold turns
    (a turn that merely mentions the subject is a wrong target).
    """
    if d.gold is None:
        return False
    got = predicted_turns(d, pairs)
    gold_turns = set(d.gold.turns)
    if gold_turns and got == gold_turns:
        return True
    if d.gold.subject and got <= gold_turns:
        names = {norm_name(x) for x in [d.gold.subject, *d.gold.aliases]}
        return bool(target) and norm_name(target) in names
    return False
