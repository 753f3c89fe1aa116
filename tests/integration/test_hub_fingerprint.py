"""A model loaded by hub id is identified by its weight files' contents, as a local folder is (issue 22): the
id names no content (a re-upload, or another cache's copy, has other weights under the same id). Two hub
caches hold the same id with files of equal names, sizes and mtimes but different bytes; they get different
fingerprints, and a ledger made with one refuses the other."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from huggingface_hub import constants
from ledger_child import make_edit, tiny_llama

from repair.edit.ledger import Ledger, LedgerError
from repair.models.arch import arch_for
from repair.models.loader import resolve

pytestmark = pytest.mark.usefixtures("repair_home")

REPO = "someone/tiny-llama"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def hub_cache(root: Path, model) -> Path:
    """``root`` laid out as huggingface_hub's cache holding ``model`` as REPO at REVISION (``refs/main``)."""
    repo = root / f"models--{REPO.replace('/', '--')}"
    model.save_pretrained(repo / "snapshots" / REVISION)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    return repo / "snapshots" / REVISION


def test_a_hub_id_gets_a_content_fingerprint_and_another_copy_of_it_is_refused(tmp_path, monkeypatch):
    model = tiny_llama()
    snap_a = hub_cache(tmp_path / "hub-a", model)
    shutil.copytree(tmp_path / "hub-a", tmp_path / "hub-b", copy_function=shutil.copy2)  # mtimes kept
    f = tmp_path / "hub-b" / snap_a.relative_to(tmp_path / "hub-a") / "model.safetensors"
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[-5] ^= 0x01  # other weights, same size
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime
    assert (f.stat().st_size, f.stat().st_mtime_ns) == ((snap_a / f.name).stat().st_size, st.st_mtime_ns)

    found = {}
    for which in ("hub-a", "hub-b"):
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / which))
        name, source, fingerprint = resolve(REPO)
        assert (
            name == REPO
            and Path(source).resolve()
            == (tmp_path / which / snap_a.relative_to(tmp_path / "hub-a")).resolve()
        )
        found[which] = fingerprint
    assert found["hub-a"].startswith("sha256:") and found["hub-a"] != found["hub-b"]
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-a"))
    assert resolve(REPO)[2] == found["hub-a"]  # the same files: the same identity (from the stat cache)

    led = Ledger(model, arch_for(model), found["hub-a"], tmp_path / "ledger")
    led.load()
    led.commit(make_edit("e1", 1))
    other = tiny_llama()
    with pytest.raises(LedgerError, match="another base model"):
        Ledger(other, arch_for(other), found["hub-b"], tmp_path / "ledger")


def test_a_hub_id_that_is_neither_cached_nor_reachable_is_a_clear_error(tmp_path, monkeypatch):
    from repair.models.loader import ModelNotFoundError

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError, match="someone/tiny-llama"):
        resolve(REPO)
