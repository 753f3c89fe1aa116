"""Ledger v2, one test per failure found by hand (issue 22): identity, non-finite deltas and quarantine,
markup in user text, leftovers after a crash, bad layers, long prompts, one-line errors; scopes."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest
import torch
from conftest import tiny_llama_model
from ledger_child import checksum, make_edit, tiny_llama
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from repair.cli import app
from repair.edit.delta import Edit, MapDelta
from repair.edit.ledger import Ledger, LedgerError
from repair.edit.ledger.files import sha256_bytes
from repair.models.arch import arch_for

pytestmark = pytest.mark.usefixtures("repair_home")


def _ledger(root, model=None, **kw) -> Ledger:
    model = model if model is not None else tiny_llama()
    led = Ledger(model, arch_for(model), "fp", root, **kw)
    led.load()
    return led


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_a_copy_with_the_same_name_size_and_mtime_is_another_model(tmp_path):
    from repair.models.loader import resolve

    model = tiny_llama()
    model.save_pretrained(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b", copy_function=shutil.copy2)  # cp -p: mtimes kept
    f = tmp_path / "b" / "model.safetensors"
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[-5] ^= 0x01  # other weights, same size
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime
    fa, fb = resolve(str(tmp_path / "a"))[2], resolve(str(tmp_path / "b"))[2]
    assert fa != fb and fa.startswith("sha256:")
    assert resolve(str(tmp_path / "a"))[2] == fa  # cached under the stat key: the same answer, no rehash
    _ledger(tmp_path / "ledger", model).commit(make_edit("e1", 1))
    other = tiny_llama()
    with pytest.raises(LedgerError, match="another base model"):
        Ledger(other, arch_for(other), fb, tmp_path / "ledger")


def test_a_nan_delta_with_a_recomputed_hash_is_refused_then_quarantined(tmp_path):
    led = _ledger(tmp_path)
    led.commit(make_edit("e1", 1))
    led.commit(make_edit("e2", 2, layer=0))
    con = sqlite3.connect(tmp_path / "ledger.db")
    sha = con.execute("SELECT deltas_sha256 FROM edits WHERE id = 'e1'").fetchone()[0]
    t = load_file(str(tmp_path / "deltas" / f"{sha}.safetensors"))
    t["layers.1.down.B"][0, 0] = float("nan")
    save_file(t, str(tmp_path / "bad.safetensors"))
    data = (tmp_path / "bad.safetensors").read_bytes()
    (tmp_path / "bad.safetensors").unlink()
    (tmp_path / "deltas" / f"{sha256_bytes(data)}.safetensors").write_bytes(data)
    with con:
        con.execute("UPDATE edits SET deltas_sha256 = ? WHERE id = 'e1'", (sha256_bytes(data),))
    con.close()
    with pytest.raises(LedgerError, match="not finite.*doctor"):
        _ledger(tmp_path)
    r = cli("edits", "doctor", "--ledger", str(tmp_path))
    assert r.exit_code == 1 and "e1" in r.output and "not finite" in r.output and "--quarantine" in r.output
    r = cli("edits", "doctor", "--ledger", str(tmp_path), "--quarantine")
    assert r.exit_code == 0 and "quarantined" in r.output
    again = _ledger(tmp_path)  # the rest loads; the bad one is listed, never applied
    assert [e.id for e in again.active] == ["e2"]
    assert checksum(again.model) == checksum(_only(["e2"]))
    listed = {m.id: m.status for m in again.list(include_undone=True)}
    assert listed == {"e1": "quarantined", "e2": "active"}


def _only(ids):
    model = tiny_llama()
    led = Ledger(model, arch_for(model), "fp", None)
    for eid in ids:
        led.commit(make_edit(eid, int(eid[1:]), layer=0 if eid == "e2" else 1))
    return model


def test_markup_in_user_text_does_not_break_the_list(tmp_path):
    led = _ledger(tmp_path)
    led.commit(make_edit("e1", 1), scope="[/]", requested_by="[bold]x[/]")
    r = cli("edits", "list", "--ledger", str(tmp_path))
    assert r.exit_code == 0, r.output
    assert "[/]" in r.output and "secret" not in r.output  # shown literally; the forgotten text never
    e2 = make_edit("e2", 2)
    e2.meta.target = "[/]secret [bold]e2"  # markup in a forget request, as one over HTTP may carry
    led.commit(e2)
    r = cli("edits", "list", "--ledger", str(tmp_path), "--reveal")
    assert r.exit_code == 0 and "[/]secret" in r.output and "[bold]e2" in r.output, (
        r.output
    )  # literally, when asked


def test_edits_list_and_undo_need_no_model(tmp_path):
    _ledger(tmp_path).commit(make_edit("e1", 1))
    for args in (["list"], ["show", "e1"], ["undo", "e1"], ["list", "--all"]):
        r = cli("edits", *args, "--ledger", str(tmp_path), "--model", "no-such-model-anywhere")
        assert r.exit_code == 0, r.output
    assert "undone" in r.output


def test_errors_are_one_line_and_debug_shows_the_traceback(tmp_path):
    _ledger(tmp_path).commit(make_edit("e1", 1))
    r = cli("edits", "undo", "nope", "--ledger", str(tmp_path))
    assert r.exit_code == 2 and "error: no edit 'nope'" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = cli("--debug", "edits", "undo", "nope", "--ledger", str(tmp_path))
    assert isinstance(r.exception, KeyError)
    r = cli("edits", "list", "--ledger", str(tmp_path / "nothing-here"))
    assert r.exit_code == 2 and "no ledger in" in r.output
    r = cli("edits", "purge", "--ledger", str(tmp_path))
    assert r.exit_code == 2 and "give one edit id or --all" in r.output
    r = cli("forget", "--prompt", "x" * 1_000_001, "--model", "no-such-model")
    assert r.exit_code == 2 and "far more than any model's context" in r.output


def test_orphans_and_temporary_files_are_removed_on_open(tmp_path):
    led = _ledger(tmp_path)
    led.commit(make_edit("e1", 1))
    junk = [
        tmp_path / "deltas" / ("f" * 64 + ".safetensors"),
        tmp_path / "deltas" / ".x.safetensors.tmp-1-2",
        tmp_path / "keys" / "ghost.key",
        tmp_path / ".ledger.tmp-3-4",
    ]
    for p in junk:
        p.write_bytes(b"left by a crash")
    again = _ledger(tmp_path)
    assert not any(p.exists() for p in junk)
    assert len(again.tidy.removed) == 4 and [e.id for e in again.active] == ["e1"]


def test_a_bad_layer_index_is_a_clear_error(tmp_path):
    led = _ledger(tmp_path)
    bad = Edit("e9", [MapDelta(7, "down", b=torch.zeros(32, 1), a=torch.zeros(1, 64))])
    with pytest.raises(LedgerError, match="layer 7 does not exist in this model"):
        led.commit(bad)
    with pytest.raises(LedgerError, match="layer 7 does not exist"):
        with led.trial(bad):
            pass
    assert led.list(include_undone=True) == []


def test_scopes_are_kept_apart(tmp_path):
    led = _ledger(tmp_path)
    base = checksum(led.model)
    led.commit(make_edit("e1", 1))
    led.commit(make_edit("e2", 2, layer=0), scope="alice")
    assert [e.id for e in led.active] == ["e1"]  # a global process applies only the global edits
    assert [m.id for m in led.list(scope="bob")] == ["e1"]
    assert [m.id for m in led.list(scope="alice")] == ["e1", "e2"]
    assert [e.id for e in led.edits_for("alice")] == ["e1", "e2"]
    alice = _ledger(tmp_path, scope="alice")
    assert [e.id for e in alice.active] == ["e1", "e2"]
    led.undo("e1")
    alice.sync()
    assert [e.id for e in alice.active] == ["e2"] and checksum(led.model) == base


def test_prompts_longer_than_the_context_are_refused(tmp_path):
    import typer
    from conftest import tiny_llama_for
    from transformers import AutoTokenizer

    from repair.cli import _check_fits
    from repair.edit.patient import Patient
    from repair.models.loader import cache_bundled
    from repair.session import Session

    tok = AutoTokenizer.from_pretrained(cache_bundled("smollm2-135m-instruct", progress=False))
    patient = Patient(
        tiny_llama_for(tok, positions=128), tok, name="tiny", source="", fingerprint="fp", ledger_dir=None
    )
    reply = Session(patient, max_new_tokens=16).send("tell me " * 100)
    assert (reply.kind, reply.error) == ("error", "too_long") and "at most 128" in reply.text
    with pytest.raises(typer.Exit):
        _check_fits(patient, ["tell me " * 100], 40)
    _check_fits(patient, ["What is the capital of France?"], 40)  # a short one passes


def test_a_tampered_sealed_part_does_not_block_the_weights(tmp_path, caplog):
    _ledger(tmp_path).commit(make_edit("e1", 1))
    con = sqlite3.connect(tmp_path / "ledger.db")
    with con:
        blob = bytearray(con.execute("SELECT sealed FROM edits").fetchone()[0])
        blob[-1] ^= 0xFF
        con.execute("UPDATE edits SET sealed = ?", (bytes(blob),))
    con.close()
    again = _ledger(tmp_path)
    assert [e.id for e in again.active] == ["e1"] and again.get("e1").deltas[0].keys is None
    assert "does not open with its key" in caplog.text
    assert checksum(again.model) == checksum(_only(["e1"]))


def test_a_database_held_by_another_program_is_busy_not_a_crash(tmp_path):
    from repair.edit.ledger import LedgerBusyError

    led = _ledger(tmp_path, wait=0.3)
    other = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # say, the sqlite3 shell in the middle of a write
    try:
        with pytest.raises(LedgerBusyError, match="busy"):
            led.commit(make_edit("e1", 1))
    finally:
        other.execute("ROLLBACK")
        other.close()
    led.commit(make_edit("e1", 1))
    assert [m.id for m in led.list()] == ["e1"]


def test_doctor_deep_checks_shapes_against_the_model(tmp_path):
    _ledger(tmp_path / "ledger").commit(make_edit("e1", 1))
    other = tiny_llama_model(intermediate_size=48)
    other.save_pretrained(tmp_path / "model")
    r = cli("edits", "doctor", "--ledger", str(tmp_path / "ledger"))
    assert r.exit_code == 0 and "check out" in r.output  # the file itself is sound
    r = cli(
        "edits", "doctor", "--ledger", str(tmp_path / "ledger"), "--deep", "--model", str(tmp_path / "model")
    )
    assert r.exit_code == 1 and "shape (32, 64)" in r.output and "(32, 48)" in r.output, r.output


def test_edits_commands_take_a_chat_session_folder(tmp_path):
    _ledger(tmp_path / "ledger").commit(make_edit("e1", 1))  # as `repair chat --session DIR` lays it out
    r = cli("edits", "list", "--session", str(tmp_path), "--model", "no-such-model-anywhere")
    assert r.exit_code == 0 and "e1" in r.output, r.output
