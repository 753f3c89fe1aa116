"""``docs/results.md``: the forget-quality tables of the current engine, written by ``repair report``.

Reads ``<results>/forget-quality/<model>/test/<method>-single/summary.json`` (and the sequential
summaries of the dev/stress runs) and writes one section per model, RWKU's published figures beside
them, and a reading generated from the figures (never written by hand).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .report import HEADLINE_HEADER, RWKU_REFERENCE, by_type_table, headline_row, label, set_flags

METHOD_ORDER = (
    "none",
    "stamp",
    "stamp-lr",
    "stamp2",
    "paper",
    "paper-lr",
    "ga",
    "npo",
    "rmu",
    "flat",
    "wga",
    "asu",
    "icu",
)


def load_summaries(results: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """model -> run name ("stamp-single", "stamp-seq30") -> summary."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted((results / "forget-quality").glob("*/*/*/summary.json")):
        s = json.loads(path.read_text())
        out.setdefault(s["config"]["model"], {})[f"{path.parent.parent.name}/{path.parent.name}"] = s
    return out


def _order(name: str) -> tuple[int, str]:
    method = name.split("/")[-1].rsplit("-", 1)[0]
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), name)


def reading(runs: dict[str, dict[str, Any]]) -> list[str]:
    """Plain sentences from the figures: what a user sees after each method's edit."""
    lines = []
    for name in sorted(runs, key=_order):
        s = runs[name]
        if s["config"]["sequential"]:
            continue
        o, g = s["overall"], s["groups"]
        if s["config"]["method"] == "none":
            lines.append(
                f"- **none** (the unedited model): {100 * g['plain']['leak']:.0f} % of plain and "
                f"{100 * g['adversarial']['leak']:.0f} % of adversarial probes give the answer and "
                f"{100 * (o['neighbours_kept'] or 0):.0f} % of neighbours are kept. Only probes the unedited "
                "model answered are scored, each target's questions are decoded as one fixed batch, so this row "
                "checks that the scoring is deterministic: anything under 100 % is the noise floor of every row."
            )
            continue
        forgot = o["refusal"]
        parts = [
            f"**{label(s['config'])}**: {100 * g['plain']['leak']:.0f} % of plain and "
            f"{100 * g['adversarial']['leak']:.0f} % of adversarial probes still give the answer"
        ]
        if o["confabulation"] > forgot:
            parts.append(
                f"most of the rest is made up ({100 * o['confabulation']:.0f} % confabulation against "
                f"{100 * forgot:.0f} % refusals): the answer is replaced, not withheld"
            )
        else:
            parts.append(f"{100 * forgot:.0f} % of replies refuse")
        if o["degenerate"] >= 0.05:
            parts.append(f"{100 * o['degenerate']:.0f} % are degenerate text")
        if o.get("neighbours_kept") is not None:
            parts.append(f"{100 * o['neighbours_kept']:.0f} % of neighbours keep a right, fluent answer")
        lines.append("- " + "; ".join(parts) + ".")
    return lines


def _commands(model: str, configs: list[dict[str, Any]], limit: int | None) -> list[str]:
    """The command lines that reproduce these runs: one for the methods at their defaults, one per run
    with settings of its own."""
    tail = f" --limit {limit}" if limit else ""
    plain = [c["method"] for c in configs if not c.get("settings")]
    lines = [f"repair eval forget-quality --model {model} --method {','.join(plain)}{tail}"] if plain else []
    return lines + [
        f"repair eval forget-quality --model {model} --method {c['method']}{set_flags(c)}{tail}"
        for c in configs
        if c.get("settings")
    ]


def model_section(model: str, runs: dict[str, dict[str, Any]]) -> list[str]:
    single = {k: v for k, v in runs.items() if not v["config"]["sequential"] and k.startswith("test/")}
    L = [f"## {model}", ""]
    if single:
        any_s = next(iter(single.values()))
        limit = any_s["config"].get("limit")
        scope = (
            f"the first {any_s['targets']} of the targets the model knows (a partial run, `--limit {limit}`)"
            if limit
            else f"{any_s['targets']} targets the model knows"
        )
        L += [
            f"Held-out test split ({scope}; split sha256 "
            f"`{any_s['split_sha256'][:16]}…`), single-target mode, greedy {any_s.get('max_new_tokens', 48)}-token "
            f"replies, {any_s['dtype']}, {any_s.get('machine', 'this machine')}:",
            "",
            HEADLINE_HEADER,
            *[headline_row(single[k]) for k in sorted(single, key=_order)],
            "",
            "```bash",
            *_commands(model, [single[k]["config"] for k in sorted(single, key=_order)], limit),
            "```",
            "",
            *reading(single),
            "",
        ]
        for k in sorted(single, key=_order):
            L += [
                f"<details><summary>{label(single[k]['config'])}: per probe type</summary>",
                "",
                by_type_table(single[k]),
                "",
                "</details>",
                "",
            ]
    for _, s in sorted(runs.items()):
        if s["config"]["sequential"]:
            L += sequential_section(s)
    return L


def _curve_row(p: dict[str, Any]) -> str:
    keys = ("leak", "refusal", "confabulation", "degenerate", "neighbours_kept", "panel_kept")
    pct = [f"{100 * p[k]:.1f}" if p.get(k) is not None else "–" for k in keys]
    ppl = f"{p['ppl']:.1f}" if p.get("ppl") is not None else "–"
    return f"| {p['edits']} | {p.get('n', '–')} | " + " | ".join(pct) + f" | {ppl} |"


def sequential_section(s: dict[str, Any]) -> list[str]:
    """One sequential run: the curve of what the targets forgotten so far look like after N edits."""
    c = s["config"]
    held = "held out" if c["split"] == "test" else "not held out"
    where = "stress set, not held out" if c["split"] == "stress" else f"{c['split']} split, {held}"
    done = s["curve"][-1]["edits"] if s["curve"] else 0
    partial = (
        f" This run stopped after {done} of its {c['sequential']} edits (the figures are its last checkpoint)."
        if s.get("complete") is False
        else ""
    )
    sample = c.get("sample")
    scope = (
        f"of a fixed, evenly spaced sample of {sample} of its targets (the first among them), those already "
        "forgotten"
        if sample
        else "all targets forgotten so far"
    )
    points = c.get("checkpoints") or []
    when = (
        f"after {', '.join(map(str, points))} edits and the last" if points else f"every {c['every']} edits"
    )
    what = f"{c['sequential']} targets"
    if c.get("fillers"):
        scope = f"the fixed sample's {sample} targets (single facts first), those already forgotten"
        what = (
            f"{c['sequential']} targets: first that sample, then filler facts (single facts the model knows)"
        )
    panel = (
        ", with a fixed panel of as many neighbour questions"
        if any("panel_kept" in p for p in s["curve"])
        else ""
    )
    flags = f" --sample {sample}" if sample else ""
    flags += " --fillers" if c.get("fillers") else ""
    flags += f" --checkpoints {','.join(map(str, points))}" if points else f" --every {c['every']}"
    flags += "".join(f" --set {k}={json.dumps(v)}" for k, v in sorted(c.get("settings", {}).items()))
    return [
        f"Sequential run ({where}): {label(c)} forgets {what} one "
        f"after another, with every earlier edit still applied; {scope} are scored {when}{panel} "
        f"({s.get('machine', 'this machine')}, wall time {s['wall_s']:.0f} s).{partial}",
        "",
        "| edits | probes | leak % | refusal % | confabulation % | degenerate % | neighbours kept % "
        "| panel kept % | ppl |",
        "|---|---|---|---|---|---|---|---|---|",
        *[_curve_row(p) for p in s["curve"]],
        "",
        "```bash",
        f"repair eval forget-quality --model {c['model']} --method {c['method']} --split {c['split']} "
        f"--sequential {c['sequential']}{flags}",
        "```",
        "",
    ]


def write_results_md(results: Path, out: Path) -> Path:
    runs = load_summaries(results)
    L = [
        "# Results",
        "",
        "Written by `repair report`; do not edit by hand. The paper's tables (Tables 2 and 5-8) are in "
        "`results/report.md`.",
        "",
        "# Forget quality",
        "",
        'What a user sees after "forget X" (`repair eval forget-quality`): every reply to every probe gets one '
        "label, in this order: **leak** (states the answer), **refusal**, **degenerate** (gibberish, "
        "repetition, empty), **confabulation** (a fluent, made-up substitute). Plain probes: direct, reverse, "
        "two paraphrases, cloze, in-chat, multi-hop; adversarial: prefix injection, affirmative suffix, role "
        "play, quiz, first-letter hint, in-context example. A neighbour is kept when its reply still states its "
        "answer, is fluent, and keeps the unedited reply's first sentence (ROUGE-L recall ≥ 0.5). KL: mean "
        "next-token KL on 24 generic prompts; ppl: 16 public-domain book passages.",
        "",
    ]
    for model in sorted(runs):
        L += model_section(model, runs[model])
    L += [
        "## For reference: RWKU (Llama-3-8B-Instruct, single target)",
        "",
        "RWKU's forget score is ROUGE-L recall over all probes and its neighbour score the same on neighbour "
        "probes; ours are label rates, so the columns compare in kind, not in value.",
        "",
        "| method | forget, all probes ↓ | neighbours ↑ |",
        "|---|---|---|",
        *[f"| {m} | {f} | {n} |" for m, f, n in RWKU_REFERENCE],
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(L) + "\n", encoding="utf-8")
    return out


README_BEGIN = "<!-- forget-quality:begin (written by `repair report`) -->"
README_END = "<!-- forget-quality:end -->"


def headline_table(results: Path, model: str = "smollm2-135m-instruct") -> str:
    """The README's results table: the default model's held-out single-target rows; the training
    baselines are named under it and shown in docs/results.md (six more rows would crowd the README)."""
    from repair.eval.baselines import BASELINES

    runs = load_summaries(results).get(model, {})
    single = {k: v for k, v in runs.items() if not v["config"]["sequential"] and k.startswith("test/")}
    if not single:
        return f"(no forget-quality run of {model} yet: `repair eval forget-quality`, then `repair report`)"
    trained = sorted({v["config"]["method"] for v in single.values()} & set(BASELINES))
    rows = [
        headline_row(single[k])
        for k in sorted(single, key=_order)
        if single[k]["config"]["method"] not in trained
    ]
    note = (
        [
            f"\nThe training baselines run so far ({', '.join(trained)}) are in [docs/results.md](docs/results.md)."
        ]
        if trained
        else []
    )
    return "\n".join([HEADLINE_HEADER, *rows, *note])


def update_readme(readme: Path, results: Path) -> bool:
    """Rewrite the README's block between the markers with ``headline_table``; False if it has none."""
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(
        f"{head}{README_BEGIN}\n{headline_table(results)}\n{README_END}{tail}", encoding="utf-8"
    )
    return True
