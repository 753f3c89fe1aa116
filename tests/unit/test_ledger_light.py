"""Reading a ledger needs no torch: `repair edits list|show|audit|retention` import the standard library,
pydantic and the CLI's own packages only (the tensor side loads when an edit is applied or written)."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from repair.edit.delta import Edit, MapDelta
from repair.edit.ledger.maintenance import private_part
from repair.edit.ledger.ops import open_store
from repair.edit.ledger.tensors import forget_keys, stage


def _edit(eid: str, seed: int) -> Edit:
    g = torch.Generator().manual_seed(seed)
    delta = MapDelta(1, "down", b=torch.randn(8, 2, generator=g), a=torch.randn(2, 16, generator=g))
    delta.keys = torch.randn(3, 16, generator=g)
    return Edit(eid, [delta], meta={"target": f"secret {eid}", "alpha": 2.0})


def test_listing_and_showing_a_ledger_never_imports_torch(repair_home, tmp_path):
    store, _ = open_store(tmp_path / "ledger", "fp")
    edits = [_edit("e1", 1), _edit("e2", 2)]
    with store.write() as conn:
        for e in edits:
            stage(store, conn, e, fingerprint="fp")
    opened = private_part(store, "e1")  # the text from the header; the keys, bit for bit, from the tensors
    assert opened is not None and opened.meta.target == "secret e1"
    assert torch.equal(forget_keys(opened.data)["layers.1.down"], edits[0].deltas[0].keys)
    ledger = str(tmp_path / "ledger")
    code = (
        "import sys; from typer.testing import CliRunner; from repair.cli import app\n"
        "for args in (['list', '--reveal'], ['show', 'e2', '--reveal'], ['audit', 'secret e2'], ['retention']):\n"
        f"    r = CliRunner().invoke(app, ['edits', *args, '--ledger', {ledger!r}], env={{'COLUMNS': '200'}})\n"
        "    assert r.exit_code == 0, r.output\n"
        "    print(r.output)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'safetensors' not in sys.modules, 'safetensors was imported'\n"
    )
    env = {**os.environ, "REPAIR_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "secret e1" in out.stdout and '"target": "secret e2"' in out.stdout  # revealed: it was read
    assert "e2  active  forgotten text sealed" in out.stdout  # the audit matched its HMAC
