"""A global edit committed by another process lands between two steps of a served edit (issue 23): the
chat of another scope that runs between the edit's layers syncs the shared ledger, so the weights change
under the edit in progress. The edit must not be committed onto a model it was not made and checked on: it
is made again on the new model, and refused with a clear reply if the model keeps changing.

The served STAMP-2 setup of test_serve_interleave, over a session folder; a second `Ledger` on that folder
is the other process (`repair forget` in a shell). Every wait has a timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import torch
from conftest import tiny_llama_for
from test_serve_interleave import WAIT_S, chat, result, serving, step_of_edit, submit

from repair.edit.delta import Edit, MapDelta
from repair.edit.ledger import Ledger
from repair.models.arch import arch_for
from repair.serve.worker import Job
from repair.session.subject import SubjectEngine

MAX_CHAIN = 40  # chats queued one after another during the request: more than it has steps


@pytest.fixture
def served(tok, stamp2_session, repair_home, tmp_path):
    session = stamp2_session(session_dir=tmp_path)
    other_model = tiny_llama_for(tok, layers=4, positions=256, intermediate_size=256)
    other = Ledger(other_model, arch_for(other_model), "fp2", tmp_path / "ledger")
    other.load()
    yield from ((hub, loop, other) for hub, loop in serving(session))


def global_edit(eid: str, seed: int) -> Edit:
    g = torch.Generator().manual_seed(seed)
    b, a = torch.randn(32, 2, generator=g) * 0.01, torch.randn(2, 256, generator=g)
    return Edit(eid, [MapDelta(0, "down", b=b, a=a)], meta={"target": f"global {eid}"})


def made_on(monkeypatch, hub: Any) -> list[tuple[str, tuple | None, tuple | None]]:
    """(edit id, the ledger's state when the edit began, when it was made) of every STAMP-2 edit made."""
    seen: list[tuple[str, tuple | None, tuple | None]] = []
    real = SubjectEngine.edit

    def edit(self: SubjectEngine, patient: Any, subject: str, prompts: list[str]) -> Edit:
        before = hub.patient.ledger.state
        out = real(self, patient, subject, prompts)
        seen.append((out.id, before, hub.patient.ledger.state))
        return out

    monkeypatch.setattr(SubjectEngine, "edit", edit)
    return seen


def forget_while_another_process_commits(hub: Any, loop: Any, other: Ledger, times: int) -> Any:
    """Alice's "Forget Marie Curie." with chats of other scopes queued one after another; the first chat
    run between the edit's layers in each of the first ``times`` edits made commits a global edit from the
    other process before it chats (its chat then syncs it onto the weights). Returns alice's reply."""
    commits: list[str] = []
    pending: list[Job] = []
    layers_seen = threading.Event()

    def chatting(k: int) -> Callable[[Job], Any]:
        def fn(job: Job) -> Any:
            step = step_of_edit()
            if step.startswith("layers") and not layers_seen.is_set() and len(commits) < times:
                layers_seen.set()
                eid = f"g{len(commits) + 1}"
                other.commit(global_edit(eid, len(commits) + 1))
                commits.append(eid)
            elif step.startswith("checks"):
                layers_seen.clear()  # the next edit made (if any) may be intruded upon once more
            reply = hub.turn(job, "Hello there.", None, 6)
            if job.inline and k < MAX_CHAIN:
                pending.append(submit(hub, loop, chatting(k + 1), f"bob{k + 1}", True))
            return reply

        return fn

    gate = threading.Event()
    held = submit(hub, loop, lambda job: gate.wait(WAIT_S), "gate", False)
    forget = submit(hub, loop, chat(hub, "Forget Marie Curie."), "alice", True)
    pending.append(submit(hub, loop, chatting(0), "bob0", True))
    gate.set()
    assert result(held, loop)
    reply = result(forget, loop)
    for job in list(pending):
        result(job, loop)
    assert len(commits) == times
    return reply


def test_an_edit_the_model_changed_under_is_made_again_on_the_new_model(served, monkeypatch):
    hub, loop, other = served
    seen = made_on(monkeypatch, hub)
    reply = forget_while_another_process_commits(hub, loop, other, times=1)
    assert reply.kind == "unlearn" and reply.edit_id, reply.text
    made = {eid: (before, after) for eid, before, after in seen}
    before, after = made[reply.edit_id]
    assert before == after == ("g1",)  # the edit committed was made wholly on the model with g1
    assert len(seen) == 2 and seen[0][1] == () and seen[0][2] == ("g1",)  # the first was not committed
    other.sync()
    assert [(r.id, r.scope) for r in other.list()] == [("g1", "global"), (reply.edit_id, "alice")]


def test_an_edit_the_model_keeps_changing_under_is_refused_and_nothing_committed(served, monkeypatch):
    hub, loop, other = served
    seen = made_on(monkeypatch, hub)
    reply = forget_while_another_process_commits(hub, loop, other, times=2)
    assert reply.kind == "unlearn" and reply.outcome == "failed" and not reply.edit_id
    assert "kept changing while I edited it" in reply.text and "Nothing was changed" in reply.text
    assert len(seen) == 2
    other.sync()
    assert [r.id for r in other.list()] == ["g1", "g2"]
    assert hub.patient.ledger.state == ("g1", "g2")
