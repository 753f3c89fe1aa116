"""Load on `repair serve`, on loopback only, bounded in time and count: 4 scopes chat concurrently, first
without edits, then while scope s0 forgets something and undoes it. Reports chat latency p50/p95 in
both phases, errors, and whether the ledger is consistent afterwards.

    python benchmarks/serve_load.py [--clients 4] [--rounds 3] [--max-tokens 24] [--engine stamp|stamp2]
                                    [--request "Forget everything you know about Toyota."] [--out FILE]

The chats of the second phase are sent once s0's forget request has gone out, so they arrive while the edit
runs; ``overlapping_edit`` reports the chats whose time overlapped the edit's and how much of it they spent
inside the edit's window. One worker owns the model, and runs other scopes' chats between an edit's steps
(every 8 tokens while it asks the model what it knows; STAMP: its checks; STAMP-2: each layer of its edit,
each check question): a chat waits for one step of the edit, not all of it (a chat behind the whole edit
spends about ``edit_s`` inside its window).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

SCOPES = ["s0", "s1", "s2", "s3"]
QUESTIONS = [
    "What is the capital of Japan?",
    "Name a primary colour.",
    "What do bees make?",
    "How many legs does a spider have?",
    "What is the opposite of hot?",
]


def key(scope: str) -> str:
    return f"sk-bench-{scope}-0123456789"


def start(folder: Path, port: int, timeout_s: float, engine: str = "stamp") -> subprocess.Popen:
    keys = folder / "keys.toml"
    keys.write_text("".join(f'[[key]]\nname = "{s}"\nkey = "{key(s)}"\n\n' for s in SCOPES))
    cmd = [
        sys.executable,
        "-m",
        "repair.cli",
        "serve",
        "--session",
        str(folder / "session"),
        "--port",
        str(port),
        "--keys",
        str(keys),
        "--engine",
        engine,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        time.sleep(1)
    proc.kill()
    raise RuntimeError("the server did not start in time")


def chat_load(
    base: str,
    scopes: list[str],
    rounds: int,
    max_tokens: int,
    out: list,
    errors: list,
    spans: list | None = None,
) -> None:
    """Each scope's client asks ``rounds`` questions in turn; latencies go to ``out``, (start, end) to ``spans``."""
    spans = [] if spans is None else spans

    def client(scope: str) -> None:
        with httpx.Client(timeout=600) as c:
            for i in range(rounds):
                q = QUESTIONS[(i + SCOPES.index(scope)) % len(QUESTIONS)]
                t = time.perf_counter()
                r = c.post(
                    f"{base}/v1/chat/completions",
                    headers={"Authorization": f"Bearer {key(scope)}"},
                    json={
                        "messages": [
                            {"role": "system", "content": "Be brief."},
                            {"role": "user", "content": q},
                        ],
                        "max_tokens": max_tokens,
                    },
                )
                spans.append((t, time.perf_counter()))  # list.append is atomic across the client threads
                (out if r.status_code == 200 else errors).append(
                    time.perf_counter() - t if r.status_code == 200 else (scope, r.status_code, r.text[:200])
                )

    threads = [threading.Thread(target=client, args=(s,)) for s in scopes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(1800)


def forget_and_undo(base: str, record: dict, sent: threading.Event, request: str) -> None:
    h = {"Authorization": f"Bearer {key('s0')}"}
    with httpx.Client(timeout=900) as c:
        q = [{"role": "user", "content": "What is the capital of China?"}]
        r = c.post(f"{base}/v1/chat/completions", headers=h, json={"messages": q})
        q += [r.json()["choices"][0]["message"], {"role": "user", "content": request}]
        t = time.perf_counter()
        sent.set()
        r = c.post(f"{base}/v1/chat/completions", headers=h, json={"messages": q})
        record["edit_s"] = time.perf_counter() - t
        record["window"] = (t, time.perf_counter())
        info = r.json().get("repair", {})
        record["outcome"], record["edit_id"] = info.get("outcome"), info.get("edit_id")
        if record["edit_id"]:
            u = c.post(f"{base}/v1/edits/{record['edit_id']}/undo", headers=h, json={})
            record["undo_status"] = u.status_code


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def overlap(spans: list, window: tuple[float, float] | None) -> dict:
    """The chats whose time overlapped the edit's, and how long each spent inside the edit's window."""
    if not window:
        return {"n": 0}
    hit = [(a, b) for a, b in spans if a < window[1] and b > window[0]]
    inside = [min(b, window[1]) - max(a, window[0]) for a, b in hit]
    latency = [b - a for a, b in hit]
    return {"n": len(inside), "p50_s": pct(latency, 0.5), "max_s": max(latency, default=None),
            "max_inside_edit_s": max(inside, default=None)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=3, help="chat scopes besides s0 (at most 3)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--start-timeout", type=float, default=600)
    ap.add_argument("--engine", default="stamp", help="the server's engine (stamp2: a subject edit)")
    ap.add_argument("--request", default="Forget what you just told me.", help="s0's forget request")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = start(Path(tmp), port, args.start_timeout, args.engine)
        try:
            scopes = SCOPES[1 : 1 + min(args.clients, 3)]
            quiet, errors = [], []
            chat_load(base, scopes, args.rounds, args.max_tokens, quiet, errors)
            busy, record, spans, sent = [], {}, [], threading.Event()
            editor = threading.Thread(target=forget_and_undo, args=(base, record, sent, args.request))
            editor.start()
            sent.wait(600)
            time.sleep(0.2)  # the forget request is with the server when the chats arrive
            chat_load(base, scopes, args.rounds, args.max_tokens, busy, errors, spans)
            editor.join(1800)
            h = {"Authorization": f"Bearer {key('s0')}"}
            edits = httpx.get(f"{base}/v1/edits", params={"all": "true"}, headers=h, timeout=30).json()[
                "data"
            ]
        finally:
            proc.terminate()
            proc.wait(60)
    consistent = all(e["status"] == "undone" for e in edits) and len(edits) == (
        1 if record.get("edit_id") else 0
    )
    summary = {
        "scopes": len(scopes), "rounds": args.rounds, "max_tokens": args.max_tokens,
        "no_edit": {"n": len(quiet), "p50_s": pct(quiet, 0.5), "p95_s": pct(quiet, 0.95)},
        "during_edit": {"n": len(busy), "p50_s": pct(busy, 0.5), "p95_s": pct(busy, 0.95),
                        "max_s": max(busy) if busy else None},
        "overlapping_edit": overlap(spans, record.pop("window", None)), "engine": args.engine,
        "request": args.request,
        "edit": record, "errors": errors, "ledger_consistent": consistent,
        "mean_no_edit_s": statistics.mean(quiet) if quiet else None,
    }  # fmt: skip
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
