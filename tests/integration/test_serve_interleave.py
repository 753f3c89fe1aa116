"""A chat in one scope does not wait for a whole edit of another (issue 23): the worker runs other scopes'
chats between an edit's checks, when the weights hold only committed edits, with that chat's own adapters
and none of the editing scope's. A chat that turns out to be a forget request waits for the edit instead.

The "edit" of the first tests is what STAMP does while it searches: checks (generations) with a candidate
applied through the scope's ledger, one after another; it goes on until a chat of another scope has been
answered, or a bounded number of checks. The last test runs a whole STAMP-2 request through the session:
chats run while and after it probes the model, between the layers of its edit (computed without writing
the weights) and between its check questions. Every wait has a timeout; the assertions are about order only."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import STAMP2_LAYERS, tiny_llama_for

from repair.agents.watchdog import Verdict
from repair.edit.delta import Edit, MapDelta
from repair.edit.patient import Patient
from repair.serve.hub import Hub
from repair.serve.worker import Job
from repair.session import Session

WAIT_S = 120  # the longest any one step may take before the test fails (a slow, shared machine)
MAX_CHECKS = 400  # the edit's checks: far more than a chat needs to be answered between two of them
MAX_CHAIN = 40  # chats queued one after another during a STAMP-2 request: more than it has steps


class Rules:
    """A watchdog: a message starting with "Forget" asks to forget the user's own data; else chat."""

    k = 4

    def inspect(self, history: list[dict], message: str) -> Verdict:
        if message.startswith("Forget"):
            return Verdict(intent="unlearn", confidence=1.0, target="my home address", source="message")
        return Verdict(intent="chat", confidence=1.0)


def serving(session: Session) -> Iterator[tuple[Hub, asyncio.AbstractEventLoop]]:
    hub = Hub(session)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield hub, loop
    hub.close()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(WAIT_S)


@pytest.fixture
def served(tok):
    patient = Patient(tiny_llama_for(tok), tok, name="tiny", source="", fingerprint="fp", ledger_dir=None)
    yield from serving(Session(patient, watchdog=Rules(), max_new_tokens=6))  # type: ignore[arg-type]


def big_edit(patient: Any) -> Edit:
    """A candidate that changes every reply: a large update of each layer's down map."""
    g = torch.Generator().manual_seed(0)
    deltas = []
    for layer in range(patient.n_layers):
        w = patient.arch.weight(patient.model, layer, "down")
        deltas.append(MapDelta(layer, "down", dense=torch.randn(w.shape, generator=g) * 50))
    return Edit("trial", deltas)


def submit(
    hub: Hub, loop: asyncio.AbstractEventLoop, fn: Callable[[Job], Any], scope: str, chat: bool
) -> Job:
    async def make() -> Job:
        job = Job(fn, scope=scope, timeout_s=WAIT_S * 4, loop=asyncio.get_running_loop())
        job.interleave = chat
        return hub.worker.submit(job)

    return asyncio.run_coroutine_threadsafe(make(), loop).result(WAIT_S)


def result(job: Job, loop: asyncio.AbstractEventLoop) -> Any:
    async def done() -> Any:
        return await asyncio.wait_for(asyncio.shield(job.done), WAIT_S)

    return asyncio.run_coroutine_threadsafe(done(), loop).result(WAIT_S + 5)


def editing(hub: Hub, started: threading.Event, until: threading.Event) -> Callable[[Job], int]:
    """Alice's edit, as the worker runs it: checks with a candidate applied, until ``until`` is set (or
    MAX_CHECKS); returns how many checks ran."""

    def fn(job: Job) -> int:
        served = hub.session_for(job.scope).patient
        edit = big_edit(served)
        with hub.adapters.applied(served.ledger.own):
            for n in range(1, MAX_CHECKS + 1):
                with served.ledger.trial(edit):
                    served.generate(["Check question?"], max_new_tokens=2)
                started.set()
                if until.is_set():
                    return n
        return MAX_CHECKS

    return fn


def chat(hub: Hub, text: str, log: list[str] | None = None) -> Callable[[Job], Any]:
    def fn(job: Job) -> Any:
        reply = hub.turn(job, text, None, 6)
        if log is not None:
            log.append(job.scope)
        return reply

    return fn


def test_a_chat_of_another_scope_is_answered_between_an_edits_checks(served):
    hub, loop = served
    alice = hub.session_for("alice").patient
    alice.ledger.commit(big_edit(alice), scope="alice")  # alice's own edit: an adapter on her requests only
    alone = result(submit(hub, loop, chat(hub, "Hello there."), "bob", True), loop).text
    assert result(submit(hub, loop, chat(hub, "Hello there."), "alice", True), loop).text != alone
    started, answered = threading.Event(), threading.Event()
    edit = submit(hub, loop, editing(hub, started, answered), "alice", False)
    assert started.wait(WAIT_S), "the edit never ran a check"
    reply = result(submit(hub, loop, chat(hub, "Hello there."), "bob", True), loop)
    answered.set()
    checks = result(edit, loop)
    assert checks < MAX_CHECKS  # the chat was answered while the edit was still checking
    # and as bob's chats are answered without it: no candidate of alice's edit, none of her adapters
    assert reply.kind == "chat" and reply.text == alone
    patient = hub.patient  # the worker is idle now: the test may use the model itself
    plain = patient.generate(["Hello there."], max_new_tokens=6)
    with patient.ledger.trial(big_edit(patient)):  # what a chat would say if the candidate leaked into it
        assert patient.generate(["Hello there."], max_new_tokens=6) != plain


def test_a_forget_request_waits_for_the_edit_in_progress(served, caplog):
    hub, loop = served
    started = threading.Event()
    order: list[str] = []

    def edit_fn(job: Job) -> int:
        served = hub.session_for(job.scope).patient
        edit = big_edit(served)
        for n in range(1, 6):  # a few checks: the forget request is queued by the first
            with served.ledger.trial(edit):
                served.generate(["Check question?"], max_new_tokens=2)
            started.set()
            if n == 1:
                queued.wait(WAIT_S)
        order.append("edit")
        return n

    queued = threading.Event()
    edit = submit(hub, loop, edit_fn, "alice", False)
    assert started.wait(WAIT_S)
    forget = submit(hub, loop, chat(hub, "Forget my home address, 12 Quillford Lane.", order), "bob", True)
    hello = submit(hub, loop, chat(hub, "Hello there.", order), "carol", True)
    queued.set()
    assert result(edit, loop) == 5
    reply = result(forget, loop)
    assert (reply.kind, reply.outcome) == ("unlearn", "unknown_target")  # it ran, in full, once
    assert result(hello, loop).kind == "chat"
    # carol's chat ran between the edit's checks; bob's forget request only after the edit
    assert order == ["carol", "edit", "bob"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # waiting its turn is not a failure


@pytest.fixture
def served_stamp2(stamp2_session):
    yield from serving(stamp2_session())


STEPS = {  # the frames that say where a request stands
    ("decoding.py", "greedy"): "decoding",
    ("edit.py", "forget_subject"): "layers",
    ("subject.py", "check"): "checks",
    ("pipeline.py", "_subject_edit"): "stamp2",
    ("pipeline.py", "run"): "forget",
}


def step_of_edit() -> str:
    """Where the request running on this thread stands when a chat runs inside it, from the innermost
    frame out: "decoding/forget" (a generation of the forget request), "forget" (after its probing),
    "layers/stamp2/forget", "checks/stamp2/forget"; "" outside any."""
    frame, names = sys._getframe(), []
    while frame is not None:
        step = STEPS.get((Path(frame.f_code.co_filename).name, frame.f_code.co_name))
        if step is not None:
            names.append(step)
        frame = frame.f_back
    return "/".join(names)


def test_a_stamp2_request_lets_other_scopes_chat_between_its_steps(served_stamp2):
    """Each chat of another scope that waits while alice's STAMP-2 forget request runs is answered at its
    next step: every few tokens of its probing (asking the model what it knows), after the probing, after
    each layer of the edit, after each check question, never inside a check; each queues the next, which
    waits for the step after. They get the same reply as without the edit, and the weights are bit for
    bit what they were (the edit is computed with hooks, checked in trials, kept as alice's)."""
    hub, loop = served_stamp2
    model = hub.patient.model
    alone = result(submit(hub, loop, chat(hub, "Hello there."), "carol", True), loop).text
    w0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    seen: list[tuple[str, bool, str]] = []
    pending: list[Job] = []

    def chatting(k: int) -> Callable[[Job], Any]:
        def fn(job: Job) -> Any:
            step = step_of_edit()
            reply = hub.turn(job, "Hello there.", None, 6)
            seen.append((step, job.inline, reply.text))
            if job.inline and k < MAX_CHAIN:  # the next chat comes now: it waits for alice's next step
                pending.append(submit(hub, loop, chatting(k + 1), f"bob{k + 1}", True))
            return reply

        return fn

    gate = threading.Event()
    held = submit(hub, loop, lambda job: gate.wait(WAIT_S), "gate", False)  # both queued before either runs
    forget = submit(hub, loop, chat(hub, "Forget Marie Curie."), "alice", True)
    pending.append(submit(hub, loop, chatting(0), "bob0", True))
    gate.set()
    assert result(held, loop)
    reply = result(forget, loop)
    assert reply.kind == "unlearn" and reply.plan is not None and reply.plan.method == "stamp2"
    for job in list(pending):
        result(job, loop)
    steps = [step for step, inline, _ in seen if inline]
    assert [inline for _, inline, _ in seen] == [True] * len(steps) + [False]  # the last one came after
    assert seen[-1][0] == ""
    # in order: while probing (several), after it, while the guard questions are first asked (in the
    # STAMP-2 step: the session was not warmed), between the layers, between the checks
    runs = [k for k, _ in itertools.groupby(steps)]
    assert runs[:2] == ["decoding/forget", "forget"] and steps.count("decoding/forget") >= 2
    assert runs[-2:] == ["layers/stamp2/forget", "checks/stamp2/forget"]
    assert set(runs[2:-2]) <= {"decoding/stamp2/forget"}
    assert steps.count("layers/stamp2/forget") == len(STAMP2_LAYERS)
    assert steps.count("checks/stamp2/forget") >= 2  # one trial per check question
    assert all(text == alone for _, _, text in seen)  # nothing of alice's edit reached another scope
    assert all(torch.equal(w0[n], p) for n, p in model.named_parameters())
    assert not any(m._forward_hooks for m in model.modules())
