"""``repair forget`` commits its edit only onto the ledger's edits it made and checked it on (issue 22, as
the server's pipeline does since c7e7e92): when another process (a server, another ``repair forget``)
commits an edit to the same ledger while the edit is made, the edit is made once more on the current
edits; if the ledger keeps changing, it is refused in one line and nothing is committed. Before, the
edit was committed onto a model it had never been checked on.

A tiny random Llama with SmolLM2's tokenizer; the edit engine is stubbed (a fixed low-rank edit), the rest
is the command's own. A second `Ledger` on the folder is the other process."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import tiny_llama_for
from ledger_child import make_edit
from typer.testing import CliRunner

import repair.cli
from repair.cli import app
from repair.edit.ledger import Ledger
from repair.edit.patient import Patient
from repair.edit.record import GuardCheck, Verification
from repair.models.arch import arch_for


@pytest.fixture
def setup(repair_home, tok, tmp_path, monkeypatch):
    """The folder, the CLI's patient on it, another process's ledger on it, and the edits the CLI made:
    (the ledger's active edits when the edit was made, the edit's id)."""
    folder = tmp_path / "ledger"

    def patient() -> Patient:
        return Patient(tiny_llama_for(tok, layers=2), tok, name="tiny", source="", fingerprint="fp",
                       ledger_dir=folder)  # fmt: skip

    cli = patient()
    other_model = tiny_llama_for(tok, layers=2)
    other = Ledger(other_model, arch_for(other_model), "fp", folder)
    other.load()
    made: list[tuple[tuple[str, ...], str]] = []
    monkeypatch.setattr(repair.cli, "load_patient", lambda *a, **k: cli)
    return cli, other, made


def stub_edit(monkeypatch, other: Ledger, made: list, interrupt: int) -> None:
    """The engine: a fixed verified edit; for the first ``interrupt`` edits, the other process commits an
    edit of its own while it is made."""

    def edit(patient: Any, forget: Any, probes: Any, alpha: Any, recipe: Any, **options: Any) -> Any:
        n = len(made)
        e = make_edit(f"cli{n}", 20 + n)
        ver = Verification(forgotten=True, fraction=1.0, guard=GuardCheck(kept=4, total=4, ok=True))
        e.meta.set(verification=ver, alpha=1.0)
        made.append((tuple(x.id for x in patient.ledger.active), e.id))
        if n < interrupt:
            other.commit(make_edit(f"other{n}", 30 + n))
        return e

    monkeypatch.setattr(repair.cli, "_edit", edit)


def forget() -> Any:
    args = ["forget", "--prompt", "What is the capital of Zubrowka?", "--response", "Quillford."]
    return CliRunner().invoke(app, [*args, "--retain-probe", "What is 2 plus 2?"])


def test_an_edit_made_while_another_process_commits_is_made_again_on_the_new_edits(setup, monkeypatch):
    cli, other, made = setup
    stub_edit(monkeypatch, other, made, interrupt=1)
    r = forget()
    assert r.exit_code == 0, r.output
    assert "making it again" in r.output and "edit cli1 committed" in r.output
    # the second edit was made on the other process's edit, and only it was committed
    assert made == [((), "cli0"), (("other0",), "cli1")]
    assert [m.id for m in other.list()] == ["other0", "cli1"]
    assert [e.id for e in cli.ledger.active] == ["other0", "cli1"]


def test_an_edit_is_refused_in_one_line_when_the_ledger_keeps_changing(setup, monkeypatch):
    cli, other, made = setup
    stub_edit(monkeypatch, other, made, interrupt=2)
    r = forget()
    out = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert out.count("error:") == 1 and "nothing was committed" in out and "Traceback" not in out
    assert [m.id for m in other.list()] == ["other0", "other1"]  # neither of the CLI's edits
    assert len(made) == 2
