"""The training baselines' dev-tuned settings files (``eval/forget_quality/hparams``)."""

from __future__ import annotations

import pytest

import repair.eval.forget_quality.tuned as tuned_mod
from repair.eval.forget_quality.tuned import tuned


def test_a_method_without_a_file_has_no_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(tuned_mod, "HPARAMS", tmp_path)
    assert tuned("ga", "smollm2-135m-instruct") == {}


def test_a_file_is_read_and_checked_against_the_method_config(tmp_path, monkeypatch):
    monkeypatch.setattr(tuned_mod, "HPARAMS", tmp_path)
    (tmp_path / "npo").mkdir()
    (tmp_path / "npo" / "m.yaml").write_text("# tuned on dev\nlr: 3.0e-5\n")
    assert tuned("npo", "m") == {"lr": 3e-5}
    (tmp_path / "npo" / "m.yaml").write_text("lr: 3.0e-5\nlearning_rate: 1\n")
    with pytest.raises(ValueError, match=r"npo/m\.yaml.*learning_rate"):
        tuned("npo", "m")
    (tmp_path / "npo" / "m.yaml").write_text("lr: -1\n")
    with pytest.raises(ValueError, match=r"npo/m\.yaml"):
        tuned("npo", "m")


def test_shipped_files_are_valid():
    for path in tuned_mod.HPARAMS.glob("*/*.yaml"):
        assert tuned(path.parent.name, path.stem), path
