"""The ledger under crashes and two processes: a process killed at each point of a commit, an undo, a purge
and a migration leaves the ledger before or after (never between, never with leftovers); a long-running
process and a CLI editing one ledger, in turn and at once, always agree on the active edits and weights."""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from ledger_child import SEEDS, checksum, make_edit, tiny_llama, write_v1

from repair.edit.ledger import Ledger
from repair.models.arch import arch_for

pytestmark = pytest.mark.usefixtures("repair_home")

CHILD = str(Path(__file__).parents[1] / "ledger_child.py")
TIMEOUT = 180


def _env(**extra: str) -> dict[str, str]:
    src = str(Path(__file__).parents[2] / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), **extra}


def child(root: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess:
    env = _env(**({"REPAIR_CRASH_AT": crash} if crash else {}))
    return subprocess.run(
        [sys.executable, CHILD, str(root), *args], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def expected(ids: list[str]) -> str:
    """The weights a fresh model has with these edits applied in order."""
    model = tiny_llama()
    ledger = Ledger(model, arch_for(model), "fp", None)
    for eid in ids:
        ledger.commit(make_edit(eid, SEEDS[eid]))
    return checksum(model)


def reopen(root: Path) -> Ledger:
    model = tiny_llama()
    ledger = Ledger(model, arch_for(model), "fp", root)
    ledger.load()
    return ledger


def assert_tidy(root: Path) -> None:
    """No leftovers: every delta file and key is named by a row, no temporary files, a sound database."""
    con = sqlite3.connect(root / "ledger.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT id, deltas_sha256, sealed IS NOT NULL FROM edits").fetchall()
    finally:
        con.close()
    assert {p.stem for p in (root / "deltas").glob("*.safetensors")} == {r[1] for r in rows}
    keys = {p.stem for p in (root / "keys").glob("*.key")} if (root / "keys").exists() else set()
    assert keys == {r[0] for r in rows if r[2]}
    assert not [p for p in root.rglob("*") if ".tmp-" in p.name]


def _state_is(ledger: Ledger, before: list[str], after: list[str]) -> str:
    ids = [e.id for e in ledger.active]
    assert ids in (before, after), ids
    assert checksum(ledger.model) == expected(ids)
    return "before" if ids == before else "after"


@pytest.mark.parametrize(("point", "state"), [
    ("commit:after-delta", "before"), ("commit:after-key", "before"), ("commit:before-commit", "before"),
    ("commit:after-commit", "after"),
])  # fmt: skip
def test_kill_during_commit(tmp_path, point, state):
    reopen(tmp_path).commit(make_edit("e1", 1))
    r = child(tmp_path, "commit", "e2", "2", crash=point)
    assert r.returncode == 137, r.stderr
    ledger = reopen(tmp_path)
    assert _state_is(ledger, ["e1"], ["e1", "e2"]) == state
    assert_tidy(tmp_path)
    ledger.commit(make_edit("e3", 3))  # and the ledger goes on: sequence numbers stay unique
    assert [m.seq for m in ledger.list()] == sorted({m.seq for m in ledger.list()})


@pytest.mark.parametrize(
    ("point", "state"), [("undo:before-commit", "before"), ("undo:after-commit", "after")]
)
def test_kill_during_undo(tmp_path, point, state):
    led = reopen(tmp_path)
    led.commit(make_edit("e1", 1))
    led.commit(make_edit("e2", 2))
    r = child(tmp_path, "undo", "e1", crash=point)
    assert r.returncode == 137, r.stderr
    assert _state_is(reopen(tmp_path), ["e1", "e2"], ["e2"]) == state
    assert_tidy(tmp_path)


@pytest.mark.parametrize("point", ["purge:after-key", "purge:before-commit", "purge:after-commit"])
def test_kill_during_purge_finishes_the_purge_on_open(tmp_path, point):
    led = reopen(tmp_path)
    led.commit(make_edit("e1", 1))
    led.commit(make_edit("e2", 2))
    r = child(tmp_path, "purge", "e1", crash=point)
    assert r.returncode == 137, r.stderr
    ledger = reopen(tmp_path)
    # once its key is shredded, the purge is completed on the next open: never half purged
    assert {m.id: m.private for m in ledger.list()} == {"e1": "purged", "e2": "sealed"}
    assert _state_is(ledger, ["e1", "e2"], ["e1", "e2"]) == "before"  # purge keeps the edits applied
    assert_tidy(tmp_path)
    ledger.undo("e1")  # undo restores the weights only
    assert checksum(ledger.model) == expected(["e2"])


@pytest.mark.parametrize(
    ("point", "state"),
    [("commit:before-commit", "before"), ("commit:after-commit", "after"), (None, "after")],
)
def test_kill_between_ledger_and_history_leaves_both_or_neither(tmp_path, point, state):
    """A chat's forget request: the edit, the forgotten turns sealed and hidden, and the request with its
    acknowledgement are one transaction; a kill leaves all of them or none (before: a kill right after
    the commit lost the request and the "Done." reply, written in a second transaction)."""
    root = tmp_path / "ledger"
    r = child(root, "forget-request", crash=point)
    assert r.returncode == (137 if point else 0), r.stderr
    ledger = reopen(root)
    turns = ledger.history.load()
    if state == "before":  # no edit, and the turns (stored before the request) are still plain and visible
        assert ledger.list() == [] and len(turns) == 2 and all(not t.redacted_by for t in turns)
        assert [t.content for t in turns] == ["secret question e9?", "The secret answer e9."]
    else:
        assert [m.id for m in ledger.list()] == ["e9"]
        assert [t.role for t in turns] == ["user", "assistant"] * 2
        assert all(t.redacted_by == "e9" for t in turns[:2])
        request, ack = turns[2:]
        assert request.content == "Forget what you just told me." and request.kind == "unlearn"
        assert ack.edit_id == "e9" and ack.outcome == "done" and ack.content.startswith("Done.")
        assert all(t.sealed_by == "e9" for t in turns)  # no plain copy of what was forgotten
    assert_tidy(root)


@pytest.mark.parametrize("point", ["migrate:after-backup", "migrate:mid", "migrate:before-commit",
                                   "migrate:after-commit", None])  # fmt: skip
def test_kill_during_migration(tmp_path, point):
    write_v1(tmp_path, ["e1", "e2"])
    r = child(tmp_path, "open", crash=point)
    assert r.returncode == (137 if point else 0), r.stderr
    ledger = reopen(tmp_path)
    assert _state_is(ledger, ["e1", "e2"], ["e1", "e2"])
    assert not list(tmp_path.glob("*.json")) and not list(
        tmp_path.glob("*.safetensors")
    )  # moved to the backup
    assert sorted(p.name for p in (tmp_path / "backup-v1").iterdir()) == [
        "e1.json",
        "e1.safetensors",
        "e2.json",
        "e2.safetensors",
    ]
    assert ledger.get("e1").deltas[0].keys is not None  # the forget keys came along, sealed
    assert "secret" not in json.dumps([m.as_dict() for m in ledger.list()])
    assert_tidy(tmp_path)


@pytest.mark.parametrize("point", ["migrate:history-before-commit", "migrate:history-after-commit", None])
def test_kill_during_history_migration(tmp_path, point):
    root = tmp_path / "ledger"
    write_v1(root, ["e1"])
    turns = [
        {"role": "user", "content": "secret question e1?", "kind": "chat", "redacted_by": "e1"},
        {"role": "assistant", "content": "The secret answer e1.", "kind": "chat", "redacted_by": "e1"},
        {"role": "user", "content": "Hello", "kind": "chat"},
    ]
    (tmp_path / "history.json").write_text(
        json.dumps({"format": "repair-session/1", "model": "t", "turns": turns})
    )
    r = child(root, "migrate-history", crash=point)
    assert r.returncode == (137 if point else 0), r.stderr
    if point:  # the next open finishes it: once, never twice
        assert child(root, "migrate-history").returncode == 0
    ledger = reopen(root)
    got = ledger.history.load()
    assert [t.content for t in got] == [t["content"] for t in turns]
    assert [t.redacted_by for t in got] == ["e1", "e1", None]
    assert not (tmp_path / "history.json").exists() and (root / "backup-v1" / "history.json").exists()
    assert b"secret answer" not in (root / "ledger.db").read_bytes()
    assert_tidy(root)


class Server:
    """The long-running process: one command per line on stdin, one JSON answer per line, each awaited
    with a timeout."""

    def __init__(self, root: Path) -> None:
        self.p = subprocess.Popen(
            [sys.executable, CHILD, str(root), "serve"],
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(x) for x in self.p.stdout], daemon=True).start()  # type: ignore[union-attr]

    def read(self) -> dict:
        try:
            return json.loads(self.lines.get(timeout=TIMEOUT))
        except queue.Empty:
            raise AssertionError("the server process did not answer in time") from None

    def ask(self, line: str) -> dict:
        assert self.p.stdin is not None
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.p.stdin:
            self.p.stdin.close()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=30)


def test_server_and_cli_share_one_truth(tmp_path):
    root = tmp_path / "ledger"
    cli = reopen(root)
    server = Server(root)
    try:
        assert server.read()["active"] == []
        # the CLI edits: the server sees it before its next answer
        cli.commit(make_edit("e1", 1))
        assert server.ask("sync") == {"active": ["e1"], "sum": expected(["e1"]), "version": cli.version}
        # a real `repair edits undo` in another process (no model loaded)
        r = subprocess.run(
            [sys.executable, "-m", "repair.cli", "edits", "undo", "e1", "--ledger", str(root)],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert r.returncode == 0 and "undone e1" in r.stdout, r.stdout + r.stderr
        assert server.ask("sync")["active"] == [] and server.ask("sync")["sum"] == expected([])
        # both commit at once: both land, with distinct sequence numbers, and both processes agree
        done = threading.Event()
        t = threading.Thread(target=lambda: (cli.commit(make_edit("p1", 12)), done.set()))
        t.start()
        got = server.ask("commit s1 11")
        t.join(TIMEOUT)
        assert done.is_set() and "error" not in got, got
        cli.sync()
        order = [e.id for e in cli.active]
        assert sorted(order) == ["p1", "s1"]
        assert server.ask("sync")["active"] == order
        assert server.ask("sync")["sum"] == checksum(cli.model) == expected(order)
        assert len({m.seq for m in cli.list(include_undone=True)}) == 3
        # the server undoes the CLI's edit (no 404), and the CLI sees it
        assert server.ask("undo p1")["active"] == ["s1"]
        cli.sync()
        assert [e.id for e in cli.active] == ["s1"] and checksum(cli.model) == expected(["s1"])
    finally:
        server.close()


def test_sync_finds_nothing_when_nothing_changed(tmp_path):
    """An idle sync reports no change (its cost is printed by benchmarks/ledger_ops.py)."""
    led = reopen(tmp_path)
    led.commit(make_edit("e1", 1))
    led.sync()
    for _ in range(200):
        assert led.sync() is False
    _ = torch  # the child builds the same model
