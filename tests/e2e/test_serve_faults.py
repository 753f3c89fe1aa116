"""A real `repair serve` process killed during an edit and after acknowledging one (SmolLM2): on restart
the ledger is consistent and no acknowledged edit is lost. Every wait has a timeout."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.e2e
KEY = "sk-fault-admin-0123456789"
START_S, REQUEST_S = 300.0, 300.0


def _start(folder, port: int) -> subprocess.Popen:
    keys = folder / "keys.toml"
    keys.write_text(f'[[key]]\nname = "ops"\nkey = "{KEY}"\nadmin = true\n')
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "repair.cli",
            "serve",
            "--session",
            str(folder / "s"),
            "--port",
            str(port),
            "--keys",
            str(keys),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("the server did not start in time")


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def _edits(base: str) -> list[dict]:
    r = httpx.get(
        f"{base}/v1/edits", params={"all": "true"}, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    )
    return r.json()["data"]


def test_killed_during_an_edit_and_after_an_acknowledged_one(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base, h = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {KEY}"}
    ask = {"messages": [{"role": "user", "content": "Forget everything you know about Toyota."}]}
    proc = _start(tmp_path, port)
    try:
        steps = []
        with httpx.stream(
            "POST", f"{base}/v1/chat/completions", headers=h, json=ask | {"stream": True}, timeout=REQUEST_S
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    step = (json.loads(line[6:]).get("repair") or {}).get("progress", {}).get("step")
                    steps.append(step)
                    if step == "edit":
                        _kill(proc)  # mid-edit: trial weights applied, nothing committed
                        break
        assert "edit" in steps, steps
    except httpx.HTTPError:
        pass
    finally:
        if proc.poll() is None:
            _kill(proc)
    proc = _start(tmp_path, port)
    try:
        assert _edits(base) == []  # nothing half-done was kept
        r = httpx.post(f"{base}/v1/chat/completions", headers=h, json=ask, timeout=REQUEST_S)
        edit_id = r.json()["repair"]["edit_id"]
        assert edit_id, r.json()
        _kill(proc)  # right after the acknowledgement
    finally:
        if proc.poll() is None:
            _kill(proc)
    proc = _start(tmp_path, port)
    try:
        assert [(e["id"], e["status"]) for e in _edits(base)] == [(edit_id, "active")]
        r = httpx.post(
            f"{base}/v1/chat/completions",
            headers=h,
            timeout=REQUEST_S,
            json={"messages": [{"role": "user", "content": "What is Toyota?"}], "max_tokens": 24},
        )
        assert r.status_code == 200  # the restarted server answers with the edit applied
    finally:
        proc.terminate()
        proc.wait(60)
