"""A STAMP-2 edit records the settings it was made with (``EditMeta.config`` is its ``Stamp2Config``), in
the ledger's public part, and reads back typed; STAMP's records keep their ``StampConfig``."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_llama_for

from repair.edit.ledger.store import Store
from repair.edit.record import EditMeta
from repair.edit.settings import Stamp2Config, StampConfig


def test_a_session_stamp2_edit_keeps_its_config_in_the_ledger(tok, tmp_path, monkeypatch):
    from repair.edit.patient import Patient
    from repair.edit.stats import EditStats
    from repair.session.subject import SubjectEngine

    model = tiny_llama_for(tok, layers=4, positions=256, intermediate_size=256)
    patient = Patient(model, tok, name="tiny", source="", fingerprint="fp", ledger_dir=tmp_path)
    cfg = Stamp2Config(layers=[1, 2], strength=1.5, lam=1e-4, keep_replies=False)
    stats = EditStats(patient, persist=False)
    stats.keep = stats.keep[:2]
    # the per-model preparation (hparams file, statistics, refusal vector) is not what is tested here
    monkeypatch.setattr("repair.edit.stamp2.prepare", lambda patient, **kw: (cfg, stats))
    monkeypatch.setattr("repair.edit.stamp2.edit.refusal_vector", lambda *a, **k: torch.randn(32))
    edit = SubjectEngine().edit(patient, "Marie Curie", ["Who is Marie Curie?"])
    patient.ledger.commit(edit)
    rec = Store(tmp_path).records()[0]  # as `repair edits show` reads it: the public part, no model
    assert rec.meta.method == "stamp2" and isinstance(rec.meta.config, Stamp2Config)
    assert rec.meta.config == cfg and rec.meta.stamp_config is None
    assert rec.as_dict()["meta"]["config"]["strength"] == 1.5 and "subject" not in rec.as_dict()["meta"]


def test_each_engine_reads_back_its_own_settings():
    two = EditMeta(method="stamp2", subject="Toyota", config=Stamp2Config(layers=[4, 5]))
    public, private = two.split()
    back = EditMeta.load(public)
    assert back.config == two.config and back.merged(private) == two and back.subject is None
    one = EditMeta.load({"method": "stamp", "config": {"layers": [4, 5], "alpha_max": 90.0}})
    assert isinstance(one.config, StampConfig) and one.stamp_config is one.config
    # an old or foreign key is dropped, as for STAMP's settings; the rest is kept
    old = EditMeta.load({"method": "stamp2", "config": {"layers": [3], "strength": 2, "gone": 1}})
    assert old.config == Stamp2Config(layers=[3], strength=2.0, gate=0.0)  # from before gates: ungated
    with pytest.raises(ValueError, match="a stamp edit records Stamp2Config"):
        EditMeta(method="stamp", config=Stamp2Config(layers=[1]))
    with pytest.raises(ValueError, match="a stamp2 edit records StampConfig"):
        two.config = StampConfig()
    assert isinstance(two.config, Stamp2Config)  # the refused assignment changed nothing
