"""The typed edit record: records written as plain dicts by earlier versions still load, the ledger keeps
the forgotten text out of its plain part, and a misspelt field fails instead of being stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ledger_child import tiny_llama, write_v1
from pydantic import ValidationError

from repair.edit.ledger import Ledger
from repair.edit.record import EditMeta, ProbeCheck, Verification
from repair.models.arch import arch_for

OLD = json.loads((Path(__file__).parents[1] / "fixtures" / "ledger" / "edit_meta_v1.json").read_text())
SECRETS = ("Zubrowka", "Quillford", "Vienna", "I'm sorry")


def test_an_old_dict_record_loads_typed():
    meta = EditMeta.load(OLD)
    assert meta.alpha == 13.5 and meta.layers == [5, 6, 7] and meta.screened == 2
    assert meta.forget == [("What is the capital of Zubrowka?", "The capital of Zubrowka is Quillford.")]
    ver = meta.verification
    assert ver is not None and ver.forgotten and ver.guard is not None and ver.guard.kept == 5
    # probes from before labels: the flags they carried become the label, and come back out as flags
    assert [p.label for p in ver.probes] == ["refusal", "substitute"]
    assert [p.model_dump()["forgotten"] for p in ver.probes] == [True, True]
    # "engine" (top level) is no longer written: dropped, not fatal; so is a setting the engine's config
    # no longer has, and the settings it still has load typed (escalation reads them)
    assert "engine" not in meta.dump() and meta.config is not None
    assert (meta.config.method, meta.config.alpha_start, meta.config.lam) == ("stamp", 4.0, 0.1)
    assert "a_knob_since_removed" not in meta.dump()["config"]


def test_an_old_config_value_no_longer_valid_falls_back_to_its_default():
    meta = EditMeta.load({**OLD, "config": {"alpha_start": 4.0, "solver": "a-removed-solver"}})
    assert meta.config is not None and meta.config.alpha_start == 4.0 and meta.config.solver == "exact"
    with pytest.raises(ValidationError):  # a fresh record with a misspelt setting still fails
        EditMeta(config={"alpah_start": 4.0})


def test_a_misspelt_field_fails():
    with pytest.raises(ValidationError):
        EditMeta(alpah=2.0)
    with pytest.raises(ValidationError):
        EditMeta().set(verfication=None)
    with pytest.raises(ValidationError):
        EditMeta(alpha="strong")


def test_public_part_holds_figures_and_no_forgotten_text():
    meta = EditMeta.load(OLD)
    public, private = meta.split()
    text = json.dumps(public)
    assert not any(s in text for s in SECRETS), text
    assert public["verification"]["n_probes"] == 2 and public["verification"]["fraction"] == 1.0
    assert public["alpha"] == 13.5 and public["plan_source"] == "llm"
    assert EditMeta.load(public).merged(private) == meta  # sealing and opening loses nothing


def test_verdict_of_labelled_replies():
    probes = [ProbeCheck(prompt="q", reply="r", label=lab) for lab in ("refusal", "substitute", "leak")]
    ver = Verification.of(probes)
    assert not ver.forgotten and ver.fraction == pytest.approx(2 / 3) and ver.count("leak") == 1
    assert Verification.of(probes[:1]).refused and not Verification.of([]).forgotten


def test_a_format_1_ledger_with_old_records_opens(tmp_path):
    write_v1(tmp_path, ["e1"], meta=OLD)
    model = tiny_llama()
    led = Ledger(model, arch_for(model), "fp", tmp_path)
    led.load()
    (edit,) = led.active
    assert isinstance(edit.meta, EditMeta) and edit.meta.alpha == 13.5
    assert edit.meta.verification is not None and edit.meta.verification.probes[1].reply == "It is Vienna."
    assert edit.meta.target == "the capital of Zubrowka"  # sealed, and opened with the edit's key
    (listed,) = led.list()
    assert not any(s in json.dumps(listed.as_dict()) for s in SECRETS)
    assert listed.meta.verification is not None and listed.meta.verification.forgotten is True
    assert listed.meta.alpha == 13.5
