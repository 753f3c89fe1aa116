"""A forget request that commits no edit (nothing to remove, declined, refused by the guard) still names what
the user wanted gone, and there is no edit key to seal it under: neither the request nor the reply is kept,
in memory, in the database or in the history (`Session.history`, ``GET /v1/history``), as a successful
request's turns are hidden (issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from conftest import tiny_llama_for  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from ledger_child import tiny_llama  # noqa: E402

from repair.agents.watchdog import Verdict  # noqa: E402
from repair.edit.ledger import FORGOTTEN  # noqa: E402
from repair.edit.patient import Patient  # noqa: E402
from repair.serve.app import create_app  # noqa: E402
from repair.serve.security import Keys, KeySpec  # noqa: E402
from repair.session import Session  # noqa: E402

pytestmark = pytest.mark.usefixtures("repair_home")

REQUEST = "Forget my home address, 12 Quillford Lane."
SECRET = b"quillford"
ALICE = "sk-alice-000000000000"


class Rules:
    """A watchdog that reads a message starting with "Forget" as a request to forget the user's own data
    (no pairs: the session finds nothing about it in the conversation) and anything else as chat."""

    k = 4

    def inspect(self, history: list[dict], message: str) -> Verdict:
        if message.startswith("Forget"):
            return Verdict(intent="unlearn", confidence=1.0, target="my home address", source="message")
        return Verdict(intent="chat", confidence=1.0)


def files_with_secret(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and SECRET in p.read_bytes().lower()]


def _session(folder: Path) -> Session:
    patient = Patient(tiny_llama(), None, name="tiny", source="", fingerprint="fp", ledger_dir=None)
    return Session(patient, watchdog=Rules(), session_dir=folder)  # type: ignore[arg-type]


@pytest.mark.parametrize("declined", [False, True])
def test_a_forget_request_that_commits_nothing_is_not_kept(tmp_path, declined):
    folder = tmp_path / "session"
    s = _session(folder)
    if declined:
        s.confirm = lambda proposal: False  # the user says no at the confirmation step
    reply = s.send(REQUEST)
    assert reply.kind == "unlearn" and reply.edit_id is None
    assert reply.outcome == ("declined" if declined else "unknown_target")
    assert "Quillford" not in str(s.turns)  # not even in memory
    assert [t["content"] for t in s.history] == [FORGOTTEN, FORGOTTEN]
    assert [t["role"] for t in s.history] == ["user", "assistant"]  # the exchange keeps its place
    assert files_with_secret(folder) == []
    reopened = _session(folder)  # a restart reads back what was stored: no text
    assert [t["content"] for t in reopened.history] == [FORGOTTEN, FORGOTTEN]


def test_the_server_history_leaves_out_a_forget_request_that_committed_nothing(tmp_path):
    from transformers import AutoTokenizer

    from repair.models.loader import cache_bundled

    tok = AutoTokenizer.from_pretrained(cache_bundled("smollm2-135m-instruct", progress=False))
    folder = tmp_path / "session"
    patient = Patient(
        tiny_llama_for(tok, positions=256), tok, name="tiny", source="", fingerprint="fp", ledger_dir=None
    )
    session = Session(patient, watchdog=Rules(), session_dir=folder, max_new_tokens=4)  # type: ignore[arg-type]
    keys = Keys([KeySpec(name="alice", key=ALICE, users=True)])
    auth = {"Authorization": f"Bearer {ALICE}"}
    with TestClient(create_app(session, keys, hosts={"testserver"})) as c:
        for text in ("Hello there.", REQUEST):
            body = {"messages": [{"role": "user", "content": text}], "max_tokens": 4}
            r = c.post("/v1/chat/completions", headers=auth, json=body)
            assert r.status_code == 200, r.text
        answer = r.json()["choices"][0]["message"]["content"]
        assert "nothing stored" in answer  # the client is told, once
        r = c.get("/v1/history", headers=auth)
        assert r.status_code == 200, r.text
        shown = [t["content"] for t in r.json()["data"]]
        assert len(shown) == 2 and shown[0] == "Hello there."  # the chat stays, the request is gone
        assert "Quillford" not in r.text and "home address" not in r.text
    assert files_with_secret(folder) == []
