"""The official `openai` client against a real uvicorn server on loopback (a tiny random Llama): replies,
streamed tokens, auth errors, and cancellation of work whose client went away."""

from __future__ import annotations

import time

import httpx
import pytest

openai = pytest.importorskip("openai")
uvicorn = pytest.importorskip("uvicorn")

from conftest import uvicorn_thread  # noqa: E402
from test_serve_http import ALICE, BOB, auth, make_app  # noqa: E402

TIMEOUT = 30.0


@pytest.fixture(scope="module")
def server(tok):
    app = make_app(tok)
    model = app.state.hub.patient.model
    calls = {"n": 0}

    def slow(module, args):  # a real model, made slow enough that stopping early shows
        calls["n"] += 1
        time.sleep(0.01)

    hook = model.register_forward_pre_hook(slow)
    with uvicorn_thread(app, TIMEOUT) as port:
        yield f"http://127.0.0.1:{port}", calls, app
    hook.remove()


def idle(base: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while True:
        h = httpx.get(f"{base}/health", timeout=5).json()
        if not h["busy"] and not h["queued"]:
            return
        assert time.monotonic() < deadline, "the server stayed busy"
        time.sleep(0.05)


def client(base: str, key: str = ALICE) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, timeout=TIMEOUT, max_retries=0)


def test_openai_client_chats_and_streams(server):
    base, _, _ = server
    oc = client(base)
    assert [m.id for m in oc.models.list().data] == ["tiny"]
    done = oc.chat.completions.create(
        model="tiny", max_tokens=8, messages=[{"role": "user", "content": "Hello"}]
    )
    assert done.choices[0].message.content and done.model_extra["repair"]["kind"] == "chat"
    pieces = []
    for chunk in oc.chat.completions.create(
        model="tiny", max_tokens=12, stream=True, messages=[{"role": "user", "content": "Hello again"}]
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    assert len(pieces) > 3
    with pytest.raises(openai.AuthenticationError):
        client(base, "sk-wrong-00000000000000").models.list()
    with pytest.raises(openai.BadRequestError):
        oc.chat.completions.create(model="tiny", max_tokens=-5, messages=[{"role": "user", "content": "Hi"}])


def test_a_stream_left_after_one_chunk_stops_generating(server):
    base, calls, _ = server
    oc = client(base, BOB)
    idle(base)
    n0 = calls["n"]
    full = oc.chat.completions.create(
        model="tiny", max_tokens=120, messages=[{"role": "user", "content": "Go on"}]
    )
    idle(base)
    n_full = calls["n"] - n0
    assert n_full > 60, full.choices[0].message.content  # the tiny model rarely stops by itself
    n0 = calls["n"]
    stream = oc.chat.completions.create(
        model="tiny", max_tokens=120, stream=True, messages=[{"role": "user", "content": "Go on and on"}]
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.close()  # the client goes away after one token
    idle(base)
    assert calls["n"] - n0 < n_full / 2


def test_an_abandoned_request_is_cancelled_and_the_server_stays_responsive(server):
    base, calls, _ = server
    idle(base)
    n0 = calls["n"]
    with pytest.raises(httpx.TimeoutException):
        httpx.post(
            f"{base}/v1/chat/completions",
            headers=auth(BOB),
            timeout=0.3,
            json={"max_tokens": 120, "messages": [{"role": "user", "content": "Keep talking"}]},
        )
    idle(base)
    assert calls["n"] - n0 < 60
    r = httpx.get(f"{base}/v1/models", headers=auth(BOB), timeout=5)
    assert r.status_code == 200
