"""The committed filler facts (benchmarks/make_fq_fillers.py): enough for a 1,000-edit run, and none
names what the held-out splits, the fixed sample or the neighbour panel name (data only, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repair.eval.forget_quality.data import known_path, load_targets
from repair.eval.forget_quality.fillers import Vocabulary, load_fillers, target_terms, target_text

MODEL = "smollm2-135m-instruct"
SAMPLE = 50  # the fixed sample a --sequential 1000 --sample 50 run edits before the fillers


@pytest.fixture(scope="module")
def fillers():
    out = load_fillers(MODEL)
    assert out is not None, f"no committed filler set for {MODEL}"
    return out


def test_a_thousand_edit_run_has_enough_fillers(fillers):
    assert len(fillers.facts) >= 1000 - SAMPLE
    assert len({f.id for f in fillers.facts}) == len(fillers.facts)
    assert len({f.prompt for f in fillers.facts}) == len(fillers.facts)
    assert all(f.answer not in f.aliases for f in fillers.facts)


def test_no_filler_names_a_held_out_target(fillers):
    example = Path(known_path(MODEL)).parent.parent / "_example.jsonl"
    held = [t for s in ("dev", "test") for t in load_targets(s)] + load_targets(example)
    banned = Vocabulary(target_terms(t) for t in held)
    named = [(f.id, x) for f in fillers.facts for x in f.names if banned.names(x)]
    assert not named, named[:10]


def test_no_filler_names_the_fixed_sample_or_the_panel(fillers):
    stress = {t.id: t for t in load_targets("stress")}
    sample = [stress[i] for i in fillers.sample]
    assert len(sample) == SAMPLE
    panel = []
    for item in fillers.panel:
        target, neighbour = item.split("/", 1)
        q = next(q for q in stress[target].neighbours if q.id == neighbour)
        panel.append(f"{q.prompt} {' '.join(q.keys)}")
    banned = Vocabulary([target_text(t) for t in sample] + panel)
    named = [(f.id, x) for f in fillers.facts for x in f.names if banned.names(x)]
    assert not named, named[:10]
