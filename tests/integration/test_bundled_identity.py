"""A bundled model's identity (issue 22, item 3). Its ledgers name it by its pinned GGUF's sha256, and it
loads from a float copy under ``$REPAIR_HOME/models/NAME``: that copy's content hash is recorded when it
is made (or on the first load of a copy from before) and checked on every load, so other weights put in
its place with the same names, sizes and mtimes (``cp -p``, rsync, tar) are refused in one line instead
of silently receiving the model's edits and statistics."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from repair.cli import app
from repair.models.loader import IntegrityError, cache_bundled, resolve
from repair.models.registry import BUNDLED

NAME = "smollm2-135m-instruct"


def _float_copy(home, weights=None):
    """A float copy as ``cache_bundled`` leaves it (tiny weights: the check reads files, not models)."""
    folder = home / "models" / NAME
    folder.mkdir(parents=True)
    save_file({"w": torch.arange(64, dtype=torch.float32)}, str(folder / "model.safetensors"))
    meta = {"name": NAME, "sha256": BUNDLED[NAME].sha256} | ({"weights": weights} if weights else {})
    (folder / "repair_source.json").write_text(json.dumps(meta))
    return folder


def _swap_in_other_weights(folder) -> None:
    """Other weights of the same size in place of the copy's, the name, size and mtime kept (as cp -p)."""
    path = folder / "model.safetensors"
    st = path.stat()
    other = folder.parent / "other.safetensors"
    save_file({"w": torch.arange(64, dtype=torch.float32).flip(0)}, str(other))
    assert other.stat().st_size == st.st_size
    shutil.move(other, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_float_copy_with_other_weights_is_refused(repair_home):
    folder = _float_copy(repair_home)
    assert cache_bundled(NAME) == folder  # a copy from before the check: what it holds is recorded
    recorded = json.loads((folder / "repair_source.json").read_text())["weights"]
    assert recorded.startswith("sha256:")
    assert resolve(NAME)[2] == BUNDLED[NAME].sha256  # its ledgers' name for it is unchanged
    _swap_in_other_weights(folder)
    with pytest.raises(IntegrityError, match="does not hold the weights it was made with"):
        cache_bundled(NAME)
    r = CliRunner().invoke(
        app, ["forget", "--prompt", "What is the capital of France?", "--ledger", str(repair_home / "l")]
    )
    out = " ".join(r.output.split())
    assert r.exit_code == 2 and out.count("error:") == 1 and "Traceback" not in out, r.output
    assert "delete the cached copy" in out


def test_an_untouched_float_copy_loads_with_a_stat_per_file(repair_home, monkeypatch):
    folder = _float_copy(repair_home)
    cache_bundled(NAME)
    from repair.models import identity

    def no_hashing(path):
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(identity, "file_sha256", no_hashing)
    assert cache_bundled(NAME) == folder
