"""The HTTP server over a real session (SmolLM2 patient), through FastAPI's TestClient."""

from __future__ import annotations

import fcntl
import json
import os
import threading

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from repair.serve.app import create_app  # noqa: E402
from repair.session import Session, short_id  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    session = Session.open(folder, max_new_tokens=24, user="http")
    return session, TestClient(create_app(session)), folder


def test_models_page_and_empty_ledger(served):
    session, client, _ = served
    r = client.get("/v1/models")
    assert r.status_code == 200 and r.json()["data"][0]["id"] == session.patient.name
    page = client.get("/")
    assert page.status_code == 200 and "/v1/chat/completions" in page.text
    assert client.get("/v1/edits").json() == {"object": "list", "data": []}
    r = client.post("/v1/edits/no-such-edit/undo")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_chat_completion_has_openai_shape(served):
    _, client, _ = served
    r = client.post("/v1/chat/completions", json={
        "model": "smollm2-135m-instruct", "temperature": 0.7,
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "What is the capital of France?"}],
    })
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and "Paris" in choice["message"]["content"]
    assert choice["finish_reason"] == "stop" and body["usage"]["completion_tokens"] > 0
    assert body["repair"]["kind"] == "chat" and body["repair"]["edit_id"] is None


def test_bad_requests(served):
    _, client, _ = served
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 400
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "hi"}]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_user_message"
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "  "}]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "empty"
    assert client.post("/v1/chat/completions", json={"nothing": 1}).status_code == 422


def test_streaming_clients_get_one_chunk_and_done(served):
    _, client, _ = served
    r = client.post("/v1/chat/completions", json={
        "stream": True, "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    first = json.loads(events[0])
    assert first["object"] == "chat.completion.chunk" and first["choices"][0]["delta"]["content"]


def test_concurrent_requests_are_serialised(served):
    session, client, _ = served
    before = len(session.history)
    codes: list[int] = []

    def ask(q: str) -> None:
        codes.append(client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": q}]},
                                 ).status_code)

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("What is 2 plus 2?", "Name a colour.")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200, 200]
    turns = session.history[before:]
    # Each user turn is followed by its own answer: no interleaving.
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]


def test_ledger_locked_by_another_process_gives_409(served):
    _, client, folder = served
    fd = os.open(folder / "ledger" / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what `repair edits undo` in a shell would hold
        r = client.post("/v1/edits/anything/undo")
        assert r.status_code == 409 and r.json()["error"]["code"] == "busy"
        r = client.post("/v1/chat/completions", json={"messages": [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "The capital of France is Paris."},
            {"role": "user", "content": "Forget what you just told me."}]})
        assert r.status_code == 409, r.text
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def test_forget_list_and_undo_over_http(served):
    session, client, _ = served
    convo = [{"role": "user", "content": "What is the capital of China?"}]
    r = client.post("/v1/chat/completions", json={"messages": convo})
    convo.append(r.json()["choices"][0]["message"])
    convo.append({"role": "user", "content": "Forget what you just told me."})
    r = client.post("/v1/chat/completions", json={"messages": convo})
    assert r.status_code == 200, r.text
    info = r.json()["repair"]
    assert info["kind"] == "unlearn" and info["outcome"] in ("done", "partial"), r.json()["choices"][0]
    edit_id = info["edit_id"]
    assert short_id(edit_id) in r.json()["choices"][0]["message"]["content"]
    listed = client.get("/v1/edits").json()["data"]
    assert [e["id"] for e in listed] == [edit_id] and listed[0]["target"]
    r = client.post(f"/v1/edits/{short_id(edit_id)}/undo")
    assert r.status_code == 200 and r.json() == {"id": edit_id, "status": "undone"}
    assert client.get("/v1/edits").json()["data"] == []
    assert len(client.get("/v1/edits", params={"all": "true"}).json()["data"]) == 1
    assert session.patient.ledger.active == []
