"""Markdown tables and PNG plots of forget-quality summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LABEL_COLOURS = {"leak": "#d62728", "confabulation": "#ff7f0e", "degenerate": "#7f7f7f", "refusal": "#2ca02c"}
# RWKU (2024), single target, Llama-3-8B-Instruct: forget score over all probes (ROUGE-L recall, %) and
# neighbour score; the reference the issue asks to print beside ours.
RWKU_REFERENCE = [
    ("before unlearning", 79.6, 90.7),
    ("RMU", 24.1, 73.8),
    ("AdvRMU", 17.3, 68.3),
    ("in-context unlearning", 12.8, 55.7),
]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def label(c: dict[str, Any]) -> str:
    """A run's method with the settings it overrode ("stamp2 (keep_prior=false)")."""
    sets = c.get("settings") or {}
    return c["method"] + (
        " (" + ", ".join(f"{k}={json.dumps(v)}" for k, v in sets.items()) + ")" if sets else ""
    )


def set_flags(c: dict[str, Any]) -> str:
    return "".join(f" --set {k}={json.dumps(v)}" for k, v in (c.get("settings") or {}).items())


def headline_row(s: dict[str, Any]) -> str:
    o, g = s["overall"], s["groups"]
    ppl = "–"
    if s.get("ppl") and s.get("base_ppl"):
        ppl = f"{s['ppl']:.2f} ({100 * (s['ppl'] / s['base_ppl'] - 1):+.1f} %)"
    kl = "–" if s.get("kl") is None else f"{s['kl']:.4f}"
    req = "–" if s.get("median_request_s") is None else f"{s['median_request_s']:.1f}"
    return (
        f"| {label(s['config'])} | {s['targets']} | {_pct(g['plain']['leak'])} | {_pct(g['adversarial']['leak'])} "
        f"| {_pct(o['refusal'])} | {_pct(o['confabulation'])} | {_pct(o['degenerate'])} "
        f"| {_pct(o['neighbours_kept'])} | {kl} | {ppl} | {req} |"
    )


HEADLINE_HEADER = (
    "| method | targets | leak, plain % ↓ | leak, adversarial % ↓ | refusal % ↑ | confabulation % ↓ | degenerate % ↓ "
    "| neighbours kept % ↑ | KL ↓ | ppl ↓ | median request (s) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def by_type_table(s: dict[str, Any]) -> str:
    lines = [
        "| probe type | n | leak % | refusal % | confabulation % | degenerate % |",
        "|---|---|---|---|---|---|",
    ]
    for t, r in s["by_type"].items():
        lines.append(
            f"| {t} | {r['n']} | {_pct(r['leak'])} | {_pct(r['refusal'])} | {_pct(r['confabulation'])} "
            f"| {_pct(r['degenerate'])} |"
        )
    nb = " · ".join(f"{t} {_pct(v)} %" for t, v in s["neighbours_by_type"].items())
    return "\n".join(lines) + f"\n\nNeighbours kept by type: {nb}."


def summary_markdown(s: dict[str, Any]) -> str:
    c = s["config"]
    mode = f"sequential, {c['sequential']} targets" if c["sequential"] else "single target"
    out = [
        f"# Forget quality: {c['method']} on {s['model']} ({c['split']} split, {mode})",
        "",
        HEADLINE_HEADER,
        headline_row(s),
        "",
        by_type_table(s),
        "",
        f"Outcomes: {s['outcomes']}; median weight update {s.get('median_weight_update_s')} s; "
        f"base perplexity {s.get('base_ppl')}; wall time {s['wall_s']} s; split sha256 {s['split_sha256'][:16]}…",
    ]
    if s.get("curve"):
        out += [
            "",
            "| edits | leak % | refusal % | confabulation % | neighbours kept % | ppl |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {p['edits']} | {_pct(p['leak'])} | {_pct(p['refusal'])} | {_pct(p['confabulation'])} "
            f"| {_pct(p['neighbours_kept'])} | {p.get('ppl', '–')} |"
            for p in s["curve"]
        ]
    return "\n".join(out) + "\n"


def plot_labels(summaries: list[dict[str, Any]], path: Path) -> Path:
    """Stacked label shares per probe type, one panel per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summaries), figsize=(4.5 * len(summaries), 4), squeeze=False, sharey=True)
    for ax, s in zip(axes[0], summaries, strict=True):
        types = list(s["by_type"])
        bottom = [0.0] * len(types)
        for lab, colour in LABEL_COLOURS.items():
            vals = [s["by_type"][t][lab] for t in types]
            ax.bar(types, vals, bottom=bottom, color=colour, label=lab)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_title(f"{s['config']['method']} ({s['targets']} targets)")
        ax.tick_params(axis="x", rotation=70, labelsize=7)
    axes[0][0].set_ylabel("share of replies")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_curve(s: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p["edits"] for p in s["curve"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, colour in (("refusal", "#2ca02c"), ("leak", "#d62728"), ("neighbours_kept", "#1f77b4")):
        ax.plot(xs, [p[key] for p in s["curve"]], marker="o", color=colour, label=key)
    ax.set_xlabel("edits applied")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(f"{s['config']['method']}, sequential ({s['model']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
