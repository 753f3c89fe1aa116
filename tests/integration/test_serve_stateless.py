"""OpenAI clients are stateless (issue 23): a served request's context is the conversation the client sent,
less every exchange this server did not produce; a single message has none. Before, a single message
continued the scope's stored conversation, so the same question asked twice in one scope was answered
in two contexts ("Canberra", then "Sydney"). The scope's stored turns stay its history, and what "forget
what you just told me" points at when the client sent no conversation: the last answer the server gave
that scope.

A tiny random Llama with SmolLM2's tokenizer (greedy: equal contexts give equal replies); the watchdog is
a recorder that reads every message as chat."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")

from conftest import tiny_llama_for  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from repair.agents.watchdog import Verdict  # noqa: E402
from repair.edit.patient import Patient  # noqa: E402
from repair.serve.app import create_app  # noqa: E402
from repair.serve.security import Keys, KeySpec  # noqa: E402
from repair.session import Session  # noqa: E402

pytestmark = pytest.mark.usefixtures("repair_home")

KEY = "sk-alice-000000000000"
QUESTION, OTHER = "What is the capital of Australia?", "Tell me about the Moon."


class Recorder:
    """A watchdog that reads every message as chat and keeps the conversation it was shown."""

    def __init__(self) -> None:
        self.seen: list[list[dict[str, str]]] = []

    def inspect(self, msgs: list[dict[str, str]], message: str) -> Verdict:
        self.seen.append([dict(m) for m in msgs])
        return Verdict(intent="chat", confidence=1.0)


@pytest.fixture
def served(tok, tmp_path):
    patient = Patient(
        tiny_llama_for(tok, positions=256), tok, name="tiny", source="", fingerprint="fp", ledger_dir=None
    )
    watchdog = Recorder()
    session = Session(patient, watchdog=watchdog, session_dir=tmp_path / "s", max_new_tokens=8)  # type: ignore[arg-type]
    app = create_app(session, Keys([KeySpec(name="alice", key=KEY)]), hosts={"testserver"})
    with TestClient(app) as c:
        yield c, patient, watchdog


def ask(c, *messages: str) -> str:
    """The reply to a conversation given as alternating user and assistant texts."""
    roles = (["user", "assistant"] * len(messages))[: len(messages)]
    body = {
        "messages": [{"role": r, "content": m} for r, m in zip(roles, messages, strict=True)],
        "max_tokens": 8,
    }
    r = c.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def test_the_same_single_question_twice_in_one_scope_gets_the_same_reply(served):
    c, patient, _ = served
    first = ask(c, QUESTION)
    assert ask(c, QUESTION) == first  # before: the second was answered after the first exchange
    assert first == patient.chat(QUESTION, history=[], max_new_tokens=8)
    shown = c.get("/v1/history", headers={"Authorization": f"Bearer {KEY}"}).json()["data"]
    assert [t["content"] for t in shown] == [QUESTION, first, QUESTION, first]  # the history keeps both


def test_the_context_is_the_conversation_the_client_sent_less_what_the_server_did_not_say(served):
    c, patient, _ = served
    answer = ask(c, QUESTION)
    ask(c, "An unrelated question in between.")  # stored in the scope, but not in this client's context
    context = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer}]
    assert ask(c, QUESTION, answer, OTHER) == patient.chat(OTHER, history=context, max_new_tokens=8)
    assert ask(c, QUESTION, "Sydney, says me.", OTHER) == ask(c, OTHER)  # a made-up answer is dropped


def test_a_pointer_in_a_single_message_resolves_against_the_scopes_last_answer(served):
    c, _, watchdog = served
    first = ask(c, QUESTION)
    second = ask(c, OTHER)
    ask(c, "Forget what you just told me.")
    said = [(m["role"], m["content"]) for m in watchdog.seen[-1]]
    assert said[-2:] == [("user", OTHER), ("assistant", second)]  # the scope's own last answer
    ask(c, QUESTION, first, "Forget what you just told me.")  # a client that sends its conversation
    assert [(m["role"], m["content"]) for m in watchdog.seen[-1]] == [
        ("user", QUESTION),
        ("assistant", first),
    ]
