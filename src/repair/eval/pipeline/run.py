"""Playing the scenarios against a `Session`: one row per scenario, written as it is played so that
a stopped run can resume, and the summary at the end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from repair.eval.clock import StealMeter
from repair.eval.facts import FACTS, known_facts
from repair.eval.metrics import answer_match, is_refusal
from repair.eval.pipeline.scenarios import build_scenarios
from repair.eval.pipeline.summary import summarise


def resumed_rows(out_dir: Path | None, run: dict[str, Any], resume: bool) -> dict[str, dict[str, Any]]:
    """Scenario rows of an earlier, stopped run with the same settings, by id (empty unless resuming)."""
    if out_dir is None:
        if resume:
            raise ValueError("resume needs an output folder (out=...)")
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    meta, rows = out_dir / "pipeline_run.json", out_dir / "pipeline_scenarios.jsonl"
    if not resume:
        meta.write_text(json.dumps(run, indent=1))
        return {}
    old = json.loads(meta.read_text()) if meta.exists() else None
    if old != run:
        raise ValueError(f"cannot resume {out_dir}: it holds a run with other settings ({old}), not {run}")
    done = {}
    for line in rows.read_text().splitlines() if rows.exists() else []:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut off when the run was stopped: play that scenario again
            continue
        done[row["id"]] = row
    # rewritten without the cut line, so that appended rows start on a line of their own
    tmp = rows.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in done.values()))
    tmp.replace(rows)
    return done


def play_unlearn(session: Any, patient: Any, sc: dict[str, Any]) -> dict[str, Any]:
    """One unlearning scenario: the turns, the request, the probes; its edits are left for the caller."""
    session.turns = []  # a fresh conversation; the patient is back at its base weights
    timings = [r.timings for r in map(session.send, sc["turns"]) if r.kind == "chat"]
    with StealMeter() as steal:
        reply = session.send(sc["request"])
    probes = [session.send(q) for q in (sc["fact"], sc["paraphrase"])]
    # Without conversational context too (a refusal earlier in the chat primes later answers), and
    # retain on other known facts, in one batch while the scenario's edit (if any) is active.
    outs = patient.generate([sc["fact"], sc["paraphrase"]] + [p for p, _ in sc["retain"]], max_new_tokens=32)
    bare = outs[:2]
    retain_ok = (sum(answer_match(o, a) for o, (_, a) in zip(outs[2:], sc["retain"], strict=True))
                 if reply.edit_id else None)  # fmt: skip
    plan, ver = reply.plan, reply.verification
    forget_pairs = plan.forget if plan else []
    return {
        "id": sc["id"], "style": sc["style"], "request": sc["request"], "fact": sc["fact"],
        "detected": reply.kind == "unlearn", "outcome": reply.outcome, "error": reply.error, "edit_id": reply.edit_id,
        "target": reply.target, "target_correct": any(
            p == sc["fact"] or answer_match(r, sc["answer"]) for p, r in forget_pairs),
        "plan_source": plan.source if plan else None, "plan_valid": plan is not None,
        "turnaround_s": reply.timings.get("total"), "timings": reply.timings, "steal_s": steal.seconds,
        "ack": reply.text,
        "probe_replies": [p.text for p in probes],
        "probe_leaks": [answer_match(p.text, sc["answer"]) for p in probes],
        "probe_idk": [is_refusal(p.text) for p in probes],
        "bare_replies": bare, "bare_leaks": [answer_match(b, sc["answer"]) for b in bare],
        "retain_correct": retain_ok, "retain_total": len(sc["retain"]) if reply.edit_id else None,
        "attempts": [a.model_dump() for a in plan.attempts] if plan else None, "forget": forget_pairs,
        "verify_keys": ver.keys if ver else None,
        "verify_replies": [(x.prompt, x.reply, x.forgotten) for x in ver.probes] if ver else [],
        "chat_timings": timings,
    }  # fmt: skip


def play_chat(session: Any, sc: dict[str, Any]) -> dict[str, Any]:
    """One chat-only scenario: which of its turns were (wrongly) taken as forget requests."""
    session.turns = []
    flagged, timings = [], []
    for q in sc["turns"]:
        r = session.send(q)
        flagged.append(r.kind == "unlearn")
        if r.kind == "chat":
            timings.append(r.timings)
    return {"id": sc["id"], "turns": sc["turns"], "flagged": flagged, "chat_timings": timings}


def _undo_all(session: Any) -> None:
    for e in session.edits():  # back to the base model for the next scenario (bit-exact)
        session.undo(e.id)


def _write(rows_f: IO[str] | None, row: dict[str, Any]) -> None:
    if rows_f:
        rows_f.write(json.dumps(row) + "\n")
        rows_f.flush()


def _play_all(
    session: Any,
    patient: Any,
    scenarios: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    done: dict[str, dict[str, Any]],
    rows_f: IO[str] | None,
    log: Callable[[str], None],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of every scenario, the ones in ``done`` reused, the others played and written."""
    unlearn, chat = scenarios
    rows: list[dict[str, Any]] = [done[sc["id"]] for sc in unlearn if sc["id"] in done]
    for sc in unlearn:
        if sc["id"] in done:
            continue
        row = play_unlearn(session, patient, sc)
        rows.append(row)
        _write(rows_f, row)
        _undo_all(session)
        log(f"{sc['id']} {sc['style']:8s} {row['outcome'] or 'chat':14s} {row['turnaround_s'] or 0:6.1f}s "
            f"leak={sum(row['probe_leaks'])}/{sum(row['bare_leaks'])} idk={sum(row['probe_idk'])} "
            f"retain={row['retain_correct']}/{row['retain_total']} | {sc['request'][:60]}")  # fmt: skip

    chat_rows = [done[sc["id"]] for sc in chat if sc["id"] in done]
    for sc in chat:
        if sc["id"] in done:
            continue
        row = play_chat(session, sc)
        _undo_all(session)
        chat_rows.append(row)
        _write(rows_f, row)
        if any(row["flagged"]):
            log(
                f"{sc['id']} FALSE POSITIVE: {[t for t, f in zip(sc['turns'], row['flagged'], strict=True) if f]}"
            )
    return rows, chat_rows


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    return fn(), time.perf_counter() - t


def run_pipeline(
    model: str = "smollm2-135m-instruct",
    n: int = 100,
    n_chat: int | None = None,
    seed: int = 0,
    surgeon: str = "rule",
    out: str | Path | None = None,
    k: int = 4,
    max_new_tokens: int = 48,
    log: Callable[[str], None] = print,
    resume: bool = False,
    stamp_overrides: dict[str, Any] | None = None,
    dtype: str | None = None,
) -> dict[str, Any]:
    """Play the scenarios and return the summary (also written to ``out``/pipeline.json).

    ``resume``: keep the scenarios already in ``out``/pipeline_scenarios.jsonl (a run that was stopped;
    N = 100 takes hours on a 2-core CPU) and play only the rest; the summary covers all of them."""
    import repair
    from repair.session import Session
    from repair.session.surgeons import make_surgeon

    t_start = time.perf_counter()
    patient = repair.load(model, ledger=False, dtype=dtype)  # in memory: the benchmark leaves no edits behind
    known = known_facts(patient, FACTS)
    n_chat = n // 2 if n_chat is None else n_chat
    scenarios = build_scenarios(known, n, n_chat, seed)
    session = Session(patient, surgeon=make_surgeon(surgeon, dtype), k=k, max_new_tokens=max_new_tokens,
                      stamp_overrides=stamp_overrides)  # fmt: skip
    _, warm_s = _timed(session.warm)  # as chat and serve do at start-up; reported, not part of a turnaround
    out_dir = Path(out) if out else None
    run = {"model": patient.name, "n": n, "n_chat": n_chat, "seed": seed, "surgeon": surgeon, "k": k,
           "max_new_tokens": max_new_tokens}  # fmt: skip
    if stamp_overrides:  # only when set, so that runs written before this option still resume
        run["stamp_overrides"] = stamp_overrides
    done = resumed_rows(out_dir, run, resume)
    rows_f = open(out_dir / "pipeline_scenarios.jsonl", "a" if resume else "w") if out_dir else None
    log(f"{patient.name}: knows {len(known)}/{len(FACTS)} facts; {n} unlearning + {n_chat} chat-only scenarios, "
        f"surgeon={surgeon}, seed={seed}" + (f"; {len(done)} already played (resumed)" if done else ""))  # fmt: skip
    try:
        rows, chat_rows = _play_all(session, patient, scenarios, done, rows_f, log)
    finally:
        if rows_f:
            rows_f.close()

    # Retain after the run: every edit was undone, so this should equal the base model exactly.
    final = patient.generate([x[0] for x in known], max_new_tokens=32)
    retain_after = sum(answer_match(o, x[1]) for o, x in zip(final, known, strict=True)) / len(known)
    summary = summarise(
        rows, chat_rows, run, dtype=patient.dtype, known=len(known), retain_after=retain_after
    )
    summary |= {
        "warm_up_s": round(warm_s, 2),
        "wall_s": round(time.perf_counter() - t_start, 1),
        "retain_protocol": "each edit is undone after its scenario; retain = 6 other known facts asked "
                           "while the scenario's edit is active",
    }  # fmt: skip
    if out_dir:
        (out_dir / "pipeline.json").write_text(json.dumps(summary, indent=1))
    return summary
