"""The watchdog's section of ``docs/results.md`` (issue 21), written by ``repair report`` from the JSON
files that the watchdog benchmarks write under ``results/watchdog/``:

- ``benchmarks/watchdog_v2_eval.py --split dev|dev2|dev3|dev4|dev5|test --label L [--llm M] --json ...``: the
  hand-written sets (``repair/data/watchdog_v2``), overall, per language and per class;
- ``benchmarks/watchdog_eval.py [--heldout ...] --label L --json ...``: the older generator-made
  held-out sets.

``label`` says which watchdog ran: ``before`` (the code before issue 21, commit a3f0bda) or ``now``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGETS = "recall ≥ 0.98, false-positive rate ≤ 0.01, right target ≥ 0.95, fast path < 50 ms per turn"
LABEL_ORDER = {"before": 0, "now": 1}
SPLIT_ORDER = {
    "test3": 0,
    "test": 1,
    "test2": 2,
    "dev": 3,
    "dev2": 4,
    "dev3": 5,
    "dev4": 6,
    "dev5": 7,
    "dev6": 8,
    "dev7": 9,
}
LANG_ORDER = ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "sv", "tr")


def load(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(runs on the hand-written sets, runs on the generator-made sets) under ``folder/watchdog``."""
    v2: list[dict[str, Any]] = []
    old: list[dict[str, Any]] = []
    for p in sorted((folder / "watchdog").glob("*.json")):
        try:
            r = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if "overall" in r and "split" in r:
            v2.append(r)
        elif "recall" in r and "set" in r:
            old.append(r)
    v2.sort(
        key=lambda r: (SPLIT_ORDER.get(r["split"], 9), bool(r.get("llm")), LABEL_ORDER.get(r.get("label"), 9))
    )
    old.sort(key=lambda r: (r["set"], LABEL_ORDER.get(r.get("label"), 9)))
    return v2, old


def _f(x: Any, nd: int = 3) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def _ms(x: Any) -> str:
    return "–" if x is None else f"{x:.1f}"


def _s(x: Any) -> str:
    return "–" if x is None else f"{x / 1000:.1f}"


BEFORE = "a3f0bda"  # the last commit before issue 21 changed the watchdog


def _command(r: dict[str, Any]) -> str:
    """The command that reproduces a run; a `before` run reads the package of commit a3f0bda."""
    cmd = r.get("command", "")
    if r.get("label") == "before":
        return (
            f"git archive {BEFORE} src | tar -x -C /tmp/old && PYTHONPATH=/tmp/old/src {cmd} --label before"
        )
    return cmd


def _watchdog(r: dict[str, Any]) -> str:
    return f"{r.get('label', '?')}" + (f" + {r['llm']}" if r.get("llm") else "")


def _row(name: str, m: dict[str, Any]) -> str:
    fast = m.get("fast_p50_ms", m.get("latency_p50_ms"))
    return (
        f"| {name} | {m['n']} | {_f(m['recall'])} | {_f(m['fpr'])} | {_f(m['target_rate'])} | "
        f"{_f(m['target_rate_detected'])} | {_ms(fast)} | {m.get('n_llm', 0)} | {_s(m.get('llm_p50_ms'))} |"
    )


HEAD = (
    "| {0} | n | recall | FPR | right target | right target, detected | fast path p50 ms | LLM turns | LLM p50 s |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def v2_lines(v2: list[dict[str, Any]]) -> list[str]:
    L = [HEAD.format("set · watchdog")]
    L += [_row(f"{r['set']} · {_watchdog(r)}", r["overall"]) for r in v2]
    L += ["", "Commands:", ""]
    L += [f"- {r['set']} · {_watchdog(r)}: `{_command(r)}`" for r in v2 if r.get("command")]
    for r in v2:
        # per language and class: the held-out sets, dev4 (the one dev set with Polish, Swedish,
        # Turkish) and dev5 (weighted to Spanish, French, German, Italian and Portuguese)
        if r["split"] not in ("test3", "test", "test2", "dev4", "dev5") or r.get("label") != "now":
            continue
        langs = sorted(r["by_lang"], key=lambda k: LANG_ORDER.index(k) if k in LANG_ORDER else 99)
        L += ["", f"Per language, {r['set']} · {_watchdog(r)}:", "", HEAD.format("language")]
        L += [_row(k, r["by_lang"][k]) for k in langs]
        L += ["", f"Per class, {r['set']} · {_watchdog(r)}:", "", HEAD.format("class")]
        L += [_row(k, m) for k, m in r["by_class"].items()]
    return L


def old_lines(old: list[dict[str, Any]]) -> list[str]:
    L = [
        "| set · watchdog | n | recall | precision | FPR | right target, detected | p50 ms | command |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in old:
        L.append(
            f"| {r['set']} · {r.get('label', '?')} | {r['n']} | {_f(r['recall'])} | {_f(r['precision'])} | "
            f"{_f(r['fpr'], 4)} | {_f(r['target_accuracy'])} | {_ms(r['latency_p50_ms'])} | `{_command(r)}` |"
        )
    return L


def section(folder: str | Path) -> list[str]:
    """The markdown lines of the watchdog section (empty when no watchdog run is stored)."""
    v2, old = load(Path(folder))
    if not v2 and not old:
        return []
    L = [
        "# Watchdog",
        "",
        "Does a user turn ask the model to forget something, and what (issue 21)? `before`: the watchdog "
        "before issue 21 (commit a3f0bda, run by this tree's benchmark scripts); `now`: this tree. Issue 21's targets on the hand-written held-out sets: "
        f"{TARGETS}. Right target: the exact gold history turns, or the gold subject (or an alias) taking no "
        "other turn; among all requests (a miss counts as wrong) and among the detected ones. Latency: "
        "`Watchdog.inspect` on one CPU thread of a 2-core machine shared with other jobs; the fast path is "
        "every turn the LLM did not see, the LLM path is reported on its own. `test`, `test2` and `test3` are "
        "never used for tuning (`test2` and `test3` were written later, by hand, by people who had not read "
        "the watchdog; `test3` once the rules had been fitted to `dev` to `dev7` and `test2` had been "
        "reported on three times, so it is the one set the current watchdog has never met); `dev` to `dev7` "
        "are.",
        "",
    ]
    if v2:
        L += ["## Hand-written sets (`repair/data/watchdog_v2`)", "", *v2_lines(v2), ""]
    if old:
        L += [
            "## Generator-made held-out sets (`repair/data/watchdog_heldout*.jsonl`)",
            "",
            "Made by the same generator as the classifier's training data, so they overstate the watchdog; "
            "their target check is looser (containment with at most two extra words).",
            "",
            *old_lines(old),
            "",
        ]
    return L


def append_to(docs: Path, folder: str | Path) -> bool:
    """Append the section to the page ``docs`` (just written by `repair report`); False if none."""
    lines = section(folder)
    if not lines:
        return False
    text = docs.read_text(encoding="utf-8").rstrip("\n")
    docs.write_text(text + "\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return True
