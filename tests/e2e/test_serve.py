"""The HTTP server over a real session (SmolLM2 patient), through FastAPI's TestClient: OpenAI shape,
scoped forget requests (one key's edit changes only its own answers), streamed edit progress, undo."""

from __future__ import annotations

import fcntl
import json
import os
import threading

import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from repair.serve.app import create_app  # noqa: E402
from repair.serve.security import Keys, KeySpec  # noqa: E402
from repair.session import Session  # noqa: E402
from repair.session.texts import short_id  # noqa: E402

pytestmark = pytest.mark.e2e
ADMIN, ALICE, BOB = "sk-admin-e2e-000000000", "sk-alice-e2e-000000000", "sk-bob-e2e-00000000000"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    session = Session.open(folder, max_new_tokens=24, user="http")
    keys = Keys(
        [
            KeySpec(name="admin", key=ADMIN, admin=True),
            KeySpec(name="alice", key=ALICE),
            KeySpec(name="bob", key=BOB),
        ]
    )
    with TestClient(create_app(session, keys, hosts={"testserver"})) as client:
        yield session, client, folder


def chat(client, key, messages, **extra):
    return client.post("/v1/chat/completions", headers=auth(key), json={"messages": messages} | extra)


def test_models_page_docs_and_empty_ledger(served):
    session, client, _ = served
    r = client.get("/v1/models", headers=auth(BOB))
    assert r.status_code == 200 and r.json()["data"][0]["id"] == session.patient.name
    page = client.get("/")
    assert page.status_code == 200 and "/v1/chat/completions" in page.text
    docs = client.get("/docs")
    assert (
        docs.status_code == 200
        and "/docs-assets/swagger-ui-bundle.js" in docs.text
        and "cdn" not in docs.text
    )
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/v1/edits", headers=auth(ADMIN)).json() == {"object": "list", "data": []}
    r = client.post("/v1/edits/no-such-edit/undo", headers=auth(ADMIN), json={})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_chat_completion_has_openai_shape(served):
    _, client, _ = served
    r = chat(
        client,
        BOB,
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        model="smollm2-135m-instruct",
        temperature=0.7,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and "Paris" in choice["message"]["content"]
    assert choice["finish_reason"] == "stop" and body["usage"]["completion_tokens"] > 0
    assert body["repair"]["kind"] == "chat" and body["repair"]["edit_id"] is None


def test_bad_requests(served):
    _, client, _ = served
    assert chat(client, BOB, []).status_code == 400
    r = chat(client, BOB, [{"role": "assistant", "content": "hi"}])
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_user_message"
    r = chat(client, BOB, [{"role": "user", "content": "  "}])
    assert r.status_code == 400 and r.json()["error"]["code"] == "empty"
    assert client.post("/v1/chat/completions", headers=auth(BOB), json={"nothing": 1}).status_code == 422


def test_concurrent_requests_of_one_scope_are_serialised(served):
    session, client, _ = served
    codes: list[int] = []

    def ask(q: str) -> None:
        codes.append(chat(client, ADMIN, [{"role": "user", "content": q}], max_tokens=12).status_code)

    before = len(session.turns)
    threads = [threading.Thread(target=ask, args=(q,)) for q in ("What is 2 plus 2?", "Name a colour.")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == [200, 200]
    # Each user turn is followed by its own answer: no interleaving.
    assert [t.role for t in session.turns[before:]] == ["user", "assistant", "user", "assistant"]


def test_ledger_locked_by_another_process_gives_409(served):
    _, client, folder = served
    fd = os.open(folder / "ledger" / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what `repair edits undo` in a shell would hold
        r = chat(client, ADMIN, [{"role": "user", "content": "Forget everything you know about Toyota."}])
        assert r.status_code == 409, r.text
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _stream(client, key, messages) -> list[dict]:
    with client.stream(
        "POST", "/v1/chat/completions", headers=auth(key), json={"messages": messages, "stream": True}
    ) as r:
        assert r.status_code == 200
        return [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]


def _bob_logits(client):
    hub = client.app.state.hub
    text = hub.patient.chat_text([{"role": "user", "content": "What is the capital of China?"}])
    ids = hub.patient.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with hub.worker.lock, hub.adapters.applied(hub.session_for("bob").patient.ledger.own), torch.no_grad():
        return hub.patient.model(input_ids=ids).logits


def test_a_scoped_forget_streams_progress_and_changes_only_that_scope(served):
    session, client, _ = served
    q = [{"role": "user", "content": "What is the capital of China?"}]
    alone = [{"role": "system", "content": "Be brief."}] + q  # a conversation of its own: no earlier turns
    bob_before = chat(client, BOB, alone).json()["choices"][0]["message"]["content"]
    logits_before = _bob_logits(client)
    r = chat(client, ALICE, q)
    convo = q + [
        r.json()["choices"][0]["message"],
        {"role": "user", "content": "Forget what you just told me."},
    ]
    events = _stream(client, ALICE, convo)
    steps = [e["repair"]["progress"]["step"] for e in events if "progress" in e.get("repair", {})]
    assert steps[0] == "detect" and "edit" in steps and "verify" in steps, steps
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    final = events[-1]["repair"]
    assert final["kind"] == "unlearn" and final["outcome"] in ("done", "partial"), content
    edit_id = final["edit_id"]
    assert short_id(edit_id) in content
    assert session.patient.ledger.state == ()  # nothing merged: the shared weights are the base
    listed = client.get("/v1/edits", headers=auth(ALICE)).json()["data"]
    assert [(e["id"], e["scope"]) for e in listed] == [(edit_id, "alice")]
    assert client.get("/v1/edits", headers=auth(BOB)).json()["data"] == []
    assert "Beijing" not in chat(client, ALICE, q).json()["choices"][0]["message"]["content"]
    assert chat(client, BOB, alone).json()["choices"][0]["message"]["content"] == bob_before
    assert torch.equal(_bob_logits(client), logits_before)  # bit for bit
    shown = json.dumps(client.get("/v1/history", headers=auth(ALICE)).json())
    assert "Beijing" not in shown  # the forgotten answer is not served back, nor the request that names it:
    assert all(t["kind"] == "chat" for t in json.loads(shown)["data"])
    assert client.post(f"/v1/edits/{edit_id}/undo", headers=auth(BOB), json={}).status_code == 404
    assert client.post(f"/v1/edits/{short_id(edit_id)}/undo", headers=auth(ALICE), json={}).status_code == 404
    r = client.post(f"/v1/edits/{edit_id}/undo", headers=auth(ALICE), json={})
    assert r.status_code == 200 and r.json()["status"] == "undone"
    assert client.get("/v1/edits", headers=auth(ALICE)).json()["data"] == []
    assert len(client.get("/v1/edits", headers=auth(ALICE), params={"all": "true"}).json()["data"]) == 1


def test_explicit_forget_takes_the_models_own_answer_in_the_callers_scope(served):
    session, client, _ = served
    body = {"prompt": "What is the capital of Japan?", "target": "the capital of Japan"}
    r = client.post("/v1/forget", headers=auth(BOB), json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["scope"] == "bob" and out["kind"] == "unlearn" and out["outcome"] in ("done", "partial"), out
    assert out["plan"]["forget"][0][1].startswith(
        "The capital of Japan"
    )  # the model's words, not the client's
    assert session.patient.ledger.state == ()
    assert [e["scope"] for e in client.get("/v1/edits", headers=auth(BOB)).json()["data"]] == ["bob"]
    assert client.post("/v1/forget", headers=auth(BOB), json=body | {"response": "x"}).status_code == 422
    assert client.delete(f"/v1/edits/{out['edit_id']}", headers=auth(BOB)).status_code == 200


def test_an_approved_review_request_becomes_a_global_edit(served):
    session, client, folder = served
    r = client.post("/v1/review", headers=auth(ALICE), json={"prompt": "What is the capital of Italy?"})
    item = r.json()["id"]
    assert "capital of Italy" in (folder / "review.json").read_text()
    r = client.post(f"/v1/review/{item}", headers=auth(ADMIN), json={"approve": True})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "approved" and out["edit_id"] and out["prompt"] is None, out
    assert "capital of Italy" not in (folder / "review.json").read_text()  # the words go once decided
    assert out["edit_id"] in session.patient.ledger.state  # global: merged into the shared weights
    assert [e["scope"] for e in client.get("/v1/edits", headers=auth(BOB)).json()["data"]] == ["global"]
    assert client.delete(f"/v1/edits/{out['edit_id']}", headers=auth(ALICE)).status_code == 403
    assert client.delete(f"/v1/edits/{out['edit_id']}", headers=auth(ADMIN)).status_code == 200
