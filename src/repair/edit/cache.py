"""What a patient caches between edits, each kind of entry under its own typed key.

The entries are per-model statistics and per-state answers: the edit statistics (`repair.edit.stats`),
the guard questions answered in a ledger state, the unedited next-token distributions an edit's
collateral is measured against, STAMP-2's refusal vector and its dense prior sum. A key names what its
value was computed from (the settings, the active edits' ids), so a new state never reads an old entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StatsKey:
    """`repair.edit.stats.EditStats` built with these settings (sorted (name, str(value)) pairs)."""

    settings: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class GuardKey:
    """The session's check questions the model answers with these edits active (`repair.session.guard`)."""

    edits: tuple[str, ...]


@dataclass(frozen=True)
class GuardQuestionsKey:
    """The STAMP engine's guard prompts the model answers with these edits active."""

    prompts: tuple[str, ...]
    edits: tuple[str, ...]


@dataclass(frozen=True)
class GuardKeptKey:
    """Which recorded (question, gold) guard questions the model still answers with these edits active."""

    questions: tuple[tuple[str, str], ...]
    edits: tuple[str, ...]


@dataclass(frozen=True)
class CollateralBaseKey:
    """The next-token log-probabilities of these samples in this ledger state (before a trial edit)."""

    samples: tuple[tuple[str, str], ...]
    state: tuple[str, ...] | None


@dataclass(frozen=True)
class RefusalVectorKey:
    """STAMP-2's refusal vector u at a layer, fitted with the settings ``tag`` names."""

    layer: int
    tag: str


@dataclass(frozen=True)
class PriorKey:
    """STAMP-2's dense sum of prior edits' keys at a layer, for the settings ``tag``."""

    layer: int
    tag: tuple


@dataclass(frozen=True)
class LoadTimeKey:
    """Seconds `repair.edit.patient.load` took."""


CacheKey = (
    StatsKey
    | GuardKey
    | GuardQuestionsKey
    | GuardKeptKey
    | CollateralBaseKey
    | RefusalVectorKey
    | PriorKey
    | LoadTimeKey
)
_TYPED = (
    StatsKey,
    GuardKey,
    GuardQuestionsKey,
    GuardKeptKey,
    CollateralBaseKey,
    RefusalVectorKey,
    PriorKey,
    LoadTimeKey,
)


class PatientCache(dict):
    """A dict whose keys must be one of the typed keys above: an ad-hoc key (a string, a bare tuple) is a
    TypeError, so two callers cannot meet under one key by accident."""

    def __setitem__(self, key: CacheKey, value: Any) -> None:
        if not isinstance(key, _TYPED):
            raise TypeError(f"patient cache keys are typed (repair.edit.cache), not {key!r}")
        super().__setitem__(key, value)
