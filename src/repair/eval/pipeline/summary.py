"""The benchmark's summary: the rates of Table 3 (plus false positives, retain and chat overhead)
computed from the scenario rows, and the rich table that shows them."""

from __future__ import annotations

import statistics
from typing import Any


def _pct(num: float, den: float) -> float | None:
    return round(100.0 * num / den, 2) if den else None


def _plan_and_outcome(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Plan validity, detection, targeting and outcome rates of the unlearning scenarios."""
    det = [r for r in rows if r["detected"]]
    planned = [r for r in rows if r["plan_valid"]]
    # Requests that broke with an internal error count against the plan rate (conservative).
    needed = [r for r in rows if r["plan_valid"] or r["error"] == "internal"]
    probes = [x for r in rows for x in r["probe_idk"]]
    return {
        "valid_plan_pct": _pct(len(planned), len(needed)),
        "plans_made": len(planned),
        "plan_llm_first_try_pct": _pct(sum(r["plan_source"] == "llm" for r in planned), len(planned)),
        "plan_llm_after_retry_pct": _pct(sum(r["plan_source"] in ("llm", "llm-retry") for r in planned),
                                         len(planned)),
        "request_detected_pct": _pct(len(det), len(rows)),
        "target_correct_pct": _pct(sum(r["target_correct"] for r in rows), len(rows)),
        "request_satisfied_pct": _pct(sum(r["outcome"] == "done" for r in rows), len(rows)),
        "partial_pct": _pct(sum(r["outcome"] == "partial" for r in rows), len(rows)),
        "failed_pct": _pct(sum(r["outcome"] == "failed" for r in rows), len(rows)),
        "probe_no_leak_pct": _pct(sum(not any(r["probe_leaks"]) for r in rows), len(rows)),
        "bare_probe_no_leak_pct": _pct(sum(not any(r["bare_leaks"]) for r in rows), len(rows)),
        "idk_rate_pct": _pct(sum(probes), len(probes)),
    }  # fmt: skip


def _timing(rows: list[dict[str, Any]], chat_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Turnaround of detected requests and the overhead of ordinary chat turns."""
    det = [r for r in rows if r["detected"]]
    turn = [r["turnaround_s"] for r in det if r["turnaround_s"] is not None]
    # minus the CPU time the hypervisor took during the request (rows written before steal was recorded: 0)
    net = [r["turnaround_s"] - (r.get("steal_s") or 0.0) for r in det if r["turnaround_s"] is not None]
    chat_turns = [t for r in rows + chat_rows for t in r.get("chat_timings", [])]
    overhead = [t["total"] - t.get("generate", 0.0) for t in chat_turns if "total" in t]
    gen = [t["generate"] for t in chat_turns if "generate" in t]
    return {
        "turnaround_median_s": round(statistics.median(turn), 2) if turn else None,
        "turnaround_p90_s": round(sorted(turn)[int(0.9 * (len(turn) - 1))], 2) if turn else None,
        "turnaround_minus_steal_median_s": round(statistics.median(net), 2) if net else None,
        "steal_pct_of_turnaround": _pct(sum(r.get("steal_s") or 0.0 for r in det), sum(turn)) if turn else None,
        "chat_overhead_median_ms": round(1000 * statistics.median(overhead), 1) if overhead else None,
        "chat_generate_median_s": round(statistics.median(gen), 2) if gen else None,
        "chat_overhead_pct": _pct(statistics.median(overhead), statistics.median(gen)) if gen else None,
    }  # fmt: skip


def summarise(
    rows: list[dict[str, Any]],
    chat_rows: list[dict[str, Any]],
    run: dict[str, Any],
    *,
    dtype: str,
    known: int,
    retain_after: float,
) -> dict[str, Any]:
    """The summary of a run: ``run`` holds its settings (model, surgeon, seed); the key order is
    the one pipeline.json has always had."""
    edited = [r for r in rows if r["retain_total"]]
    n_chat_turns = sum(len(r["flagged"]) for r in chat_rows)
    plan, timing = _plan_and_outcome(rows), _timing(rows, chat_rows)
    head = (
        "turnaround_median_s",
        "turnaround_p90_s",
        "turnaround_minus_steal_median_s",
        "steal_pct_of_turnaround",
    )
    return {
        "model": run["model"], "dtype": dtype,
        "surgeon": run["surgeon"], "seed": run["seed"], "n_unlearn": len(rows), "n_chat": len(chat_rows),
        "known_facts": known,
        **plan,
        **{k: timing[k] for k in head},
        "false_positive_turn_pct": _pct(sum(f for r in chat_rows for f in r["flagged"]), n_chat_turns),
        "false_positive_scenario_pct": _pct(sum(any(r["flagged"]) for r in chat_rows), len(chat_rows)),
        "retain_acc_edit_active_pct": _pct(sum(r["retain_correct"] for r in edited),
                                           sum(r["retain_total"] for r in edited)),
        "retain_acc_after_run_pct": round(100 * retain_after, 2),
        **{k: v for k, v in timing.items() if k not in head},
        "by_style": {
            s: {"n": len(g), "detected_pct": _pct(sum(r["detected"] for r in g), len(g)),
                "satisfied_pct": _pct(sum(r["outcome"] == "done" for r in g), len(g))}
            for s in ("pointing", "naming") if (g := [r for r in rows if r["style"] == s])
        },
    }  # fmt: skip


ROWS = [
    ("valid plan %", "valid_plan_pct"),
    ("request detected %", "request_detected_pct"),
    ("target resolved to the fact %", "target_correct_pct"),
    ("request satisfied (verified) %", "request_satisfied_pct"),
    ("  partly removed %", "partial_pct"),
    ("  could not remove %", "failed_pct"),
    ("follow-up probes (in the chat) without the answer %", "probe_no_leak_pct"),
    ("same probes, no chat context, without the answer %", "bare_probe_no_leak_pct"),
    ("IDK/refusal rate on probes %", "idk_rate_pct"),
    ("median turnaround s", "turnaround_median_s"),
    ("p90 turnaround s", "turnaround_p90_s"),
    ("false positives, chat turns %", "false_positive_turn_pct"),
    ("false positives, chat scenarios %", "false_positive_scenario_pct"),
    ("retain accuracy, edit active %", "retain_acc_edit_active_pct"),
    ("retain accuracy after the run %", "retain_acc_after_run_pct"),
    ("chat-turn overhead ms (median)", "chat_overhead_median_ms"),
    ("chat-turn overhead % of generation", "chat_overhead_pct"),
]


def print_table(summary: dict[str, Any], console: Any = None) -> None:
    """The summary as a rich table (Table 3 of the paper, plus false positives and retain)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(
        title=f"pipeline: {summary['model']}, surgeon={summary['surgeon']}, "
        f"{summary['n_unlearn']} unlearning + {summary['n_chat']} chat-only scenarios"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key in ROWS:
        v = summary.get(key)
        table.add_row(label, "n/a" if v is None else f"{v:g}")
    console.print(table)
