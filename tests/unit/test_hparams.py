"""The one per-model settings reader (`repair.edit.hparams`): a missing file is no settings, a bad one names
itself, and the three readers built on it (STAMP, STAMP-2, the tuned baselines) say which file is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from repair.edit.hparams import hparams_path, read_hparams
from repair.edit.settings import Stamp2Config


def test_a_missing_file_is_no_settings(tmp_path: Path) -> None:
    assert read_hparams(tmp_path / "none.yaml", Stamp2Config.model_validate, "fields") == {}


def test_a_hub_id_becomes_one_file_name(tmp_path: Path) -> None:
    assert hparams_path(tmp_path, "Qwen/Qwen2.5-0.5B") == tmp_path / "Qwen__Qwen2.5-0.5B.yaml"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("- 1\n- 2\n", "expected a mapping of fields, got list"),
        ("layers: [1, 2\n", "not valid YAML"),
        ("strength: lots\n", "strength"),
        ("layerz: [4]\n", "layerz"),
    ],
)
def test_a_bad_file_names_itself(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=says) as err:
        read_hparams(path, Stamp2Config.model_validate, "fields")
    assert str(err.value).startswith(str(path))


def test_the_readers_check_their_own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import repair.edit.stamp2.config as s2
    import repair.eval.forget_quality.tuned as tuned

    (tmp_path / "ga").mkdir()
    (tmp_path / "ga" / "m.yaml").write_text("learning_rate_typo: 1e-5\n", encoding="utf-8")
    monkeypatch.setattr(tuned, "HPARAMS", tmp_path)
    with pytest.raises(ValueError, match=r"ga/m\.yaml"):
        tuned.tuned("ga", "m")
    (tmp_path / "m.yaml").write_text("layers: seven\n", encoding="utf-8")
    monkeypatch.setattr(s2, "HPARAMS", tmp_path)
    with pytest.raises(ValueError, match=r"m\.yaml"):
        s2.load_hparams("m", 30)
