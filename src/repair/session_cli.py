"""The typer commands of the interactive loop: `repair chat`, `repair serve`, `repair eval pipeline`.

Registered on the main app in `repair.cli`; heavy imports (torch, FastAPI) happen when a command runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from repair.models.registry import DEFAULT_MODEL

console = Console()

SurgeonOpt = Annotated[
    str, typer.Option("--surgeon", help="rule (deterministic, fast) or llm (bundled Qwen2.5-Coder-0.5B)")
]
KOpt = Annotated[int, typer.Option("--k", help="turns of history the watchdog and the chat see")]
DtypeOpt = Annotated[
    str,
    typer.Option(
        "--dtype",
        help="patient weights: auto (bfloat16 where the CPU/GPU runs it natively, about twice as fast to "
        "decode; else float32), float32 or bfloat16",
    ),
]

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="stamp2 (a named subject is mapped onto the model's refusal; a request without one goes "
        "through STAMP) or stamp (the answer is edited away, often into a made-up one)",
    ),
]

# `repair serve` limits (repair.serve.hub.Limits holds the same ranges); the defaults suit one small model
MaxQueueOpt = Annotated[
    int, typer.Option("--max-queue", min=1, max=1024, help="requests waiting for the model (more get 429)")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=1, max=3600, help="seconds a chat reply may take (then 504)")
]
EditTimeoutOpt = Annotated[
    float, typer.Option("--edit-timeout", min=1, max=86400, help="seconds a request that may edit may take")
]
MaxBodyOpt = Annotated[
    int | None,
    typer.Option(
        "--max-body", min=1024, max=64 * 2**20, help="bytes of a request body [default: 8 a context token]"
    ),
]
MaxTokensOpt = Annotated[
    int | None,
    typer.Option(
        "--max-tokens",
        min=1,
        help="the largest max_tokens a request may ask [default: half the context, at most 1024]",
    ),
]


def _check_engine(engine: str) -> None:
    from repair.session.reply import ENGINES  # the one list of engine names

    if engine not in ENGINES:
        console.print(f"[red]error:[/red] unknown engine {engine!r} ({' or '.join(ENGINES)})")
        raise typer.Exit(2)


def _check_surgeon(surgeon: str) -> None:
    from repair.session.surgeons import SURGEONS  # the one list of surgeon names

    if surgeon not in SURGEONS:
        console.print(f"[red]error:[/red] unknown surgeon {surgeon!r} ({' or '.join(SURGEONS)})")
        raise typer.Exit(2)


def _check_dtype(dtype: str) -> None:
    from repair.models.loader import resolve_dtype

    try:
        resolve_dtype(dtype)
    except ValueError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


def check_session_folder(session: Path | None) -> None:
    """A --session that cannot be a session folder, refused before the model loads."""
    if session is not None and session.exists() and not session.is_dir():
        raise ValueError(f"--session {session} is a file: give a folder (it is created if missing)")
    if session is not None and (session / "ledger").exists() and not (session / "ledger").is_dir():
        raise ValueError(f"--session {session} holds a file named 'ledger': it is not a session folder")


def chat_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help=f"patient (default {DEFAULT_MODEL}, or the session's)")
    ] = None,
    session: Annotated[
        Path | None, typer.Option("--session", help="folder that keeps the edits and turns")
    ] = None,
    surgeon: SurgeonOpt = "rule",
    k: KOpt = 4,
    dtype: DtypeOpt = "auto",
    engine: EngineOpt = "stamp2",  # it refuses where STAMP makes up (docs/results.md)
    watchdog_llm: Annotated[
        str | None,
        typer.Option(
            "--watchdog-llm",
            help="a bundled model (e.g. qwen2.5-coder-0.5b-instruct) the watchdog also asks about "
            "unsure and non-English turns; loaded on first use, seconds per such turn on a CPU",
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="forget without asking first (default: show what will be forgotten and ask)"
        ),
    ] = False,
) -> None:
    """Chat in the terminal; ask the model to forget something and it edits itself, checks, and says so."""
    from repair.chat import run_chat

    check_session_folder(session)
    _check_engine(engine)
    _check_surgeon(surgeon)
    _check_dtype(dtype)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        run_chat(
            model,
            session,
            surgeon=surgeon,
            k=k,
            console=console,
            dtype=dtype,
            engine=engine,
            yes=yes,
            watchdog_llm=watchdog_llm,
        )
    except ValueError as e:  # a session folder of another model, a corrupt history
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None


KeysOpt = Annotated[
    Path | None, typer.Option("--keys", help="keys.toml: API keys, scopes, permissions (needed off loopback)")
]
PolicyOpt = Annotated[
    Path | None, typer.Option("--policy", help="policy.toml: which requests for a global edit are queued")
]
ServeSessionOpt = Annotated[
    Path | None,
    typer.Option(
        "--session", help="folder that keeps the edits and turns (default $REPAIR_HOME/sessions/MODEL)"
    ),
]


def default_session(model: str | None) -> Path:
    """Where `repair serve` keeps its edits and turns without --session: one folder per model (said)."""
    import re

    from repair.models.registry import repair_home

    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model or DEFAULT_MODEL).name) or "model"
    folder = repair_home() / "sessions" / name
    console.print(f"session folder: {folder} (--session DIR for another)")
    return folder


def serve_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help=f"patient (default {DEFAULT_MODEL}, or the session's)")
    ] = None,
    session: ServeSessionOpt = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    surgeon: SurgeonOpt = "rule",
    k: KOpt = 4,
    dtype: DtypeOpt = "auto",
    engine: EngineOpt = "stamp2",  # it refuses where STAMP makes up (docs/results.md)
    keys: KeysOpt = None,
    allow_host: Annotated[
        list[str] | None, typer.Option("--allow-host", help="another Host name to answer to (repeatable)")
    ] = None,
    max_queue: MaxQueueOpt = 16,
    timeout: TimeoutOpt = 120.0,
    edit_timeout: EditTimeoutOpt = 900.0,
    max_body: MaxBodyOpt = None,
    max_tokens: MaxTokensOpt = None,
    policy: PolicyOpt = None,
) -> None:
    """Serve the session over HTTP: OpenAI-compatible /v1/chat/completions, /v1/edits, and a web chat at /.
    Binds 127.0.0.1 unless --host says otherwise; a public address needs --keys."""
    from repair.serve.app import serve
    from repair.serve.hub import LimitOptions
    from repair.serve.security import check_bind

    try:
        check_bind(host, keys)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--host") from e

    session = session or default_session(model)
    check_session_folder(session)
    _check_engine(engine)
    _check_surgeon(surgeon)
    _check_dtype(dtype)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    serve(
        model,
        str(session),
        host=host,
        port=port,
        surgeon=surgeon,
        k=k,
        dtype=dtype,
        engine=engine,
        keys_file=str(keys) if keys else None,
        allow_hosts=tuple(allow_host or ()),
        limits=LimitOptions(
            max_queue=max_queue,
            timeout_s=timeout,
            edit_timeout_s=edit_timeout,
            max_body=max_body,
            max_tokens=max_tokens,
        ),
        policy_file=str(policy) if policy else None,
    )


def pipeline_command(
    n: Annotated[
        int, typer.Option("--n", help="unlearning scenarios (the paper's Table 3 uses hundreds)")
    ] = 100,
    n_chat: Annotated[int | None, typer.Option("--n-chat", help="chat-only scenarios (default n/2)")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    model: Annotated[str, typer.Option("--model", "-m")] = DEFAULT_MODEL,
    surgeon: SurgeonOpt = "rule",
    out: Annotated[Path, typer.Option("--out", help="results folder")] = Path("results/pipeline"),
    threads: Annotated[
        int | None, typer.Option("--threads", help="torch CPU threads (default: torch's)")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="keep the scenarios OUT already holds and play the rest")
    ] = False,
    dtype: DtypeOpt = "auto",
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="StampConfig override for every edit, key=value (repeatable), e.g. alpha_margin=1.5"
        ),
    ] = None,
) -> None:
    """Pipeline benchmark: a scripted user plays seeded scenarios against a session (paper's Table 3)."""
    import torch

    from repair.edit.stamp import parse_overrides
    from repair.eval.pipeline import print_table, run_pipeline

    _check_surgeon(surgeon)
    _check_dtype(dtype)
    try:
        stamp_overrides = parse_overrides(overrides or []) or None
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--set") from e
    if threads:
        torch.set_num_threads(threads)
    summary = run_pipeline(
        model,
        n=n,
        n_chat=n_chat,
        seed=seed,
        surgeon=surgeon,
        out=out,
        log=console.print,
        resume=resume,
        stamp_overrides=stamp_overrides,
        dtype=dtype,
    )
    print_table(summary, console)
    console.print(f"[dim]wrote {out / 'pipeline.json'} and {out / 'pipeline_scenarios.jsonl'}[/dim]")
    console.print_json(json.dumps({k: v for k, v in summary.items() if k != "by_style"}))
