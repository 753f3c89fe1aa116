"""Every error of ``repair edits ...`` on a ledger that cannot be read is one line that says what to do
(issue 22, item 4): a folder where the database should be, a file that is not a database, a damaged
database, no ledger at all. ``--debug`` still shows the traceback."""

from __future__ import annotations

import sqlite3

import pytest
from ledger_child import make_edit, tiny_llama
from typer.testing import CliRunner

from repair.cli import app
from repair.edit.ledger import Ledger, LedgerError
from repair.models.arch import arch_for

pytestmark = pytest.mark.usefixtures("repair_home")


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _one_line(r, *words: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
    for w in words:
        assert w in r.output, r.output


@pytest.mark.parametrize(
    "command", [["list"], ["show", "e1"], ["undo", "e1"], ["purge", "--all"], ["doctor"]]
)
def test_a_ledger_that_cannot_be_opened_is_one_line_with_what_to_do(tmp_path, command):
    (tmp_path / "folder" / "ledger.db").mkdir(parents=True)  # a folder where the database should be
    r = cli("edits", *command, "--ledger", str(tmp_path / "folder"))
    _one_line(r, "cannot open the ledger database", "move that folder aside")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "ledger.db").write_bytes(b"not a database " * 100)
    _one_line(cli("edits", *command, "--ledger", str(tmp_path / "junk")), "is not a ledger database")
    r = cli("edits", *command, "--ledger", str(tmp_path / "nothing"))
    _one_line(r, "no ledger in", "give --ledger DIR")
    assert "doctor" not in r.output  # the doctor cannot help where there is no ledger


def test_a_damaged_database_is_one_line_and_debug_shows_the_traceback(tmp_path):
    led = Ledger(tiny_llama(), arch_for(tiny_llama()), "fp", tmp_path)
    led.load()
    led.commit(make_edit("e1", 1))
    led.store.checkpoint()
    led.store.close()
    con = sqlite3.connect(tmp_path / "ledger.db")
    root_page = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'edits'").fetchone()[0]
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    with open(tmp_path / "ledger.db", "r+b") as f:  # the edits table's first page overwritten
        f.seek((root_page - 1) * page)
        f.write(b"\xff" * page)
    r = cli("edits", "list", "--ledger", str(tmp_path))
    _one_line(r, "error:", "restore it from a backup")
    r = cli("--debug", "edits", "list", "--ledger", str(tmp_path))
    assert isinstance(r.exception, sqlite3.DatabaseError)


def _shown(error: Exception) -> str:
    """What a `repair` command prints when it raises ``error``."""
    import typer

    from repair.cli_errors import DEBUG, clean_errors

    DEBUG["on"] = False  # as `repair` without --debug sets it
    demo = typer.Typer()

    @demo.command()
    @clean_errors
    def run() -> None:
        raise error

    r = CliRunner().invoke(demo, [])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    return r.output


def test_each_ledger_error_says_what_to_do_once():
    from repair.edit.ledger.files import ForeignLedgerError

    out = _shown(ForeignLedgerError("ledger L belongs to another base model (fingerprint a…, this model b…)"))
    assert "give this model its own --ledger folder" in out and "doctor" not in out
    out = _shown(
        LedgerError("edit e1: not finite. `repair edits doctor --ledger L --quarantine` sets it aside")
    )
    assert out.count("repair edits doctor") == 1  # the message says it; no hint repeats it
