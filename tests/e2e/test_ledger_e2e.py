"""On the real default model: a chat forgets a fact, the forgotten text is sealed from the commit on, and after
a purge no byte under the session folder or $REPAIR_HOME holds it (the model and statistics caches, which
are read-only inputs here, are linked from the usual home and not searched)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

SECRETS = [b"beijing", b"capital of china"]


def _leaks(*folders: Path) -> list[str]:
    hits = []
    for folder in folders:
        for p in folder.rglob("*"):
            if p.is_file() and not p.is_symlink() and not any(q.is_symlink() for q in p.parents):
                data = p.read_bytes().lower()
                hits += [f"{p}: {s.decode()}" for s in SECRETS if s in data]
    return hits


@pytest.mark.e2e
def test_forget_then_purge_leaves_no_trace(tmp_path, monkeypatch):
    from repair.cli import app
    from repair.eval.metrics import answer_match
    from repair.models.loader import repair_home
    from repair.session import Session

    real, home = repair_home(), tmp_path / "home"
    home.mkdir()
    for sub in ("models", "stats", "gguf"):
        if (real / sub).exists():
            (home / sub).symlink_to(real / sub)
    monkeypatch.setenv("REPAIR_HOME", str(home))
    folder = tmp_path / "chat"
    session = Session.open(folder, max_new_tokens=32)
    pre = session.send("What is the capital of China?")
    assert answer_match(pre.text, "Beijing"), pre.text
    assert _leaks(folder)  # an ordinary turn is kept in plain
    ack = session.send("Forget what you just told me.")
    assert ack.kind == "unlearn" and ack.outcome in ("done", "partial"), ack.text
    # from the commit on, nothing in plain: not in the files, the history or the list of edits
    assert _leaks(folder, home) == []
    shown = str(session.history) + str(session.edits())
    assert "Beijing" not in shown and "capital of China" not in shown
    r = CliRunner().invoke(app, ["edits", "purge", "--all", "--ledger", str(folder / "ledger")])
    assert r.exit_code == 0 and "purged 1 edit" in r.output, r.output
    assert _leaks(folder, home) == []
    again = Session.open(folder, max_new_tokens=32)  # the edit stays applied; its turns are gone
    assert [m.id for m in again.edits()] == [ack.edit_id] and again.history == []
    assert not answer_match(again.patient.chat("What is the capital of China?", max_new_tokens=32), "Beijing")
