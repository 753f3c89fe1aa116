"""The JSON of /v1/chat/completions on the wire, pinned: a completion, the stream's chunks (the role, the
tokens, an edit's progress steps in the ``repair`` field, the last chunk with the reply's record and the
usage), a forget request held for confirmation, and the error bodies. Key order and the ``data: `` lines'
spacing included, since clients (and the web page) read them as they are.

The served STAMP-2 session of the interleave tests (tests/conftest.py ``stamp2_session``): "Forget Marie
Curie." runs a whole edit, so every progress step is sent."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from repair.serve.app import create_app  # noqa: E402
from repair.serve.security import Keys, KeySpec  # noqa: E402
from repair.session import Reply  # noqa: E402
from repair.session.texts import short_id  # noqa: E402

pytestmark = pytest.mark.usefixtures("repair_home")

KEY, READER = "sk-alice-000000000000", "sk-read-0000000000000"
HEAD = ["id", "object", "created", "model"]
RECORD = [k for k in Reply.model_fields if k != "text"]  # the `repair` field: the reply less its text
USAGE = ["prompt_tokens", "completion_tokens", "total_tokens"]


@pytest.fixture
def client(stamp2_session):
    keys = Keys([KeySpec(name="alice", key=KEY), KeySpec(name="reader", key=READER, edit=False)])
    with TestClient(create_app(stamp2_session(), keys, hosts={"testserver"})) as c:
        yield c


def post(client, text: str, key: str = KEY, **extra):
    body = {"messages": [{"role": "user", "content": text}], "max_tokens": 6} | extra
    return client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def stream(client, text: str) -> list[str]:
    """The stream's ``data:`` lines, as sent."""
    body = {"messages": [{"role": "user", "content": text}], "max_tokens": 6, "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        return [line for line in r.iter_lines() if line]


def chunks(lines: list[str]) -> list[dict]:
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith('data: {"id": "chatcmpl-') for line in lines[:-1])  # json.dumps spacing
    return [json.loads(line[6:]) for line in lines[:-1]]


def test_a_completion(client):
    r = post(client, "Hello there.")
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == [*HEAD, "choices", "usage", "repair"]
    assert body["id"].startswith("chatcmpl-") and len(body["id"]) == 9 + 24
    assert (
        body["object"] == "chat.completion" and body["model"] == "tiny" and isinstance(body["created"], int)
    )
    assert body["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": body["choices"][0]["message"]["content"]},
         "finish_reason": "stop"}
    ]  # fmt: skip
    assert list(body["choices"][0]) == ["index", "message", "finish_reason"]
    assert list(body["choices"][0]["message"]) == ["role", "content"]
    assert list(body["usage"]) == USAGE
    u = body["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] and u["prompt_tokens"] == 3
    assert list(body["repair"]) == RECORD
    assert body["repair"]["kind"] == "chat" and body["repair"]["edit_id"] is None
    assert body["repair"]["verification"] is None and body["repair"]["plan"] is None
    assert set(body["repair"]["timings"]) >= {"watchdog", "generate"}


def test_a_chat_stream(client):
    events = chunks(stream(client, "Hello there."))
    first, *tokens, whole, last = events
    assert first == {"id": first["id"], "object": "chat.completion.chunk", "created": first["created"],
                     "model": "tiny", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                   "finish_reason": None}]}  # fmt: skip
    assert list(first) == [*HEAD, "choices"] and list(first["choices"][0]) == [
        "index",
        "delta",
        "finish_reason",
    ]
    assert all(e["id"] == first["id"] and e["created"] == first["created"] for e in events)
    for e in [*tokens, whole]:
        assert list(e) == [*HEAD, "choices"] and list(e["choices"][0]["delta"]) == ["content"]
        assert e["choices"][0]["finish_reason"] is None
    assert list(last) == [*HEAD, "choices", "repair", "usage"]
    assert last["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert (
        list(last["repair"]) == RECORD and last["repair"]["kind"] == "chat" and list(last["usage"]) == USAGE
    )


def test_a_forget_request_streams_its_progress_steps(client):
    events = chunks(stream(client, "Forget Marie Curie."))
    progress = [e for e in events if "progress" in (e.get("repair") or {})]
    assert progress, events
    for e in progress:
        assert list(e) == [*HEAD, "choices", "repair"] and list(e["repair"]) == ["progress"]
        assert e["choices"] == [{"index": 0, "delta": {}, "finish_reason": None}]
    steps = [e["repair"]["progress"] for e in progress]
    assert steps[0] == {"step": "detect", "text": "forget request: Marie Curie", "target": "Marie Curie"}
    assert {s["step"] for s in steps} >= {"detect", "edit", "verify", "commit"}
    for s in steps[1:]:
        assert list(s) == ["step", "text"], s  # only the detect step names a target
    assert {"step": "verify", "text": "checking 1 question(s)"} in steps
    assert {"step": "commit", "text": "committing edit in scope alice"} in steps
    assert steps[-1]["step"] == "commit"
    last = events[-1]
    assert list(last) == [*HEAD, "choices", "repair", "usage"] and list(last["repair"]) == RECORD
    assert last["repair"]["kind"] == "unlearn" and last["repair"]["edit_id"]
    assert last["repair"]["plan"]["method"] == "stamp2" and "forgotten" in last["repair"]["verification"]
    whole = events[-2]["choices"][0]["delta"]
    assert list(whole) == ["content"] and short_id(last["repair"]["edit_id"]) in whole["content"]  # whole


def test_a_forget_request_held_for_confirmation(client):
    r = post(client, "Forget Marie Curie.", confirm_edits=True)
    assert r.status_code == 200, r.text
    info = r.json()["repair"]
    assert list(info) == [*RECORD, "confirm"]
    assert info["kind"] == "confirm" and info["outcome"] is None and info["edit_id"] is None
    assert info["target"] == info["confirm"]["target"] == "Marie Curie"
    assert list(info["confirm"]) == ["target", "questions", "text"]
    assert info["confirm"]["questions"] == ["Who is Marie Curie?", "Tell me about Marie Curie."]
    assert r.json()["choices"][0]["message"]["content"] == info["confirm"]["text"]


def test_error_bodies(client):
    r = post(client, "Forget Marie Curie.", key=READER)
    assert r.status_code == 403
    assert r.json() == {"error": {"message": "This API key may chat but not ask the model to forget.",
                                  "type": "permission_error", "code": "forbidden"}}  # fmt: skip
    r = post(client, "   ")
    assert r.status_code == 400 and list(r.json()["error"]) == ["message", "type", "code"]
    assert r.json()["error"]["code"] == "empty" and r.json()["error"]["type"] == "invalid_request_error"
