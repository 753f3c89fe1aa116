"""Markdown of the runner's tables (Table 2, Tables 5-7 and delta-vs-paper, Table 8)."""

from __future__ import annotations

from typing import Any


def _f(x: Any, nd: int = 2, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    if isinstance(x, int | float):
        return f"{100 * x:.{nd - 1 if nd > 1 else 0}f}" if pct else f"{x:.{nd}f}"
    return str(x)


def _metric_cols(metric: str) -> tuple[str, str, bool]:
    return ("Acc_f↓", "Acc_r↑", True) if metric == "accuracy" else ("F-RL↓", "R-RL↑", False)


def table2_markdown(r: dict[str, Any]) -> str:
    fcol, rcol, pct = _metric_cols(r["metric"])
    fk, rk = ("acc_f", "acc_r") if pct else ("f_rl", "r_rl")
    neigh = any("acc_n" in row for row in r["rows"].values())
    title = {
        "hazard": "Harmful knowledge removal",
        "misinformation": "Misinformation removal",
        "personal": "Personal data erasure",
    }.get(r["task"].split("-")[0], r["task"])
    lines = [
        f"### Table 2 — {title} (`{r['task']}`, size {r['size']}: |D_f| = {r['n_forget']}, |D_r| = {r['n_retain']})",
        "",
        f"| Method | {fcol} | {rcol} |{' Acc_n↑ |' * neigh} Utility (ppl)↓ | KL vs Base↓ | refusals on D_f | RTE (s) | "
        f"prep (s) |",
        "|---|---|---|---|---|---|---|---|" + "---|" * neigh,
    ]
    for key, row in r["rows"].items():
        rte = "N/A" if key in ("base", "oracle") else _f(row.get("rte_s"), 1)
        prep = _f(row.get("prep_s"), 1) if "stamp" in row else ""  # only STAMP prepares per model
        acc_n = f" {_f(row.get('acc_n'), 2, True)} |" * neigh
        lines.append(
            f"| {row['method']} | {_f(row.get(fk), 2, pct)} | {_f(row.get(rk), 2, pct)} |{acc_n} "
            f"{_f(row.get('ppl'))} | {_f(row.get('kl'), 3)} | {_f(row.get('refusal_f'), 2, True)}% | "
            f"{rte} | {prep} |"
        )
    refused = [
        f"{row['method']} {st['n_edits'] - st['committed']}/{st['n_edits']}"
        for row in r["rows"].values()
        if (st := row.get("stamp")) and st.get("committed", st["n_edits"]) < st["n_edits"]
    ]
    if refused:
        lines += [
            "",
            "STAMP requests not committed because the edit broke the guard (their subjects keep "
            "Base's answers): " + ", ".join(refused) + ".",
        ]
    if neigh:
        lines += [
            "",
            "Acc_n: accuracy on held-out true facts of the same types about subjects the task never names "
            "(not trained on; no method is given them), so it shows the damage to what no retain set names.",
        ]
    lines += ["", _notes(r)]
    return "\n".join(lines) + "\n"


def _notes(r: dict[str, Any]) -> str:
    c = r.get("corpus", {})
    m = r.get("machine", {})
    return (
        f"Utility: perplexity on {c.get('n')} passages of `{c.get('source')}` ({c.get('description', '')}). "
        f"KL: first reply token on {r['config']['n_kl']} generic chat prompts. "
        f"Machine: {m.get('cpu')}{', ' + m['gpu'] if m.get('gpu') else ''}, torch {m.get('torch')}, "
        f"{m.get('threads')} threads; ran on device `{r['config'].get('device') or 'auto'}`."
    )


def variant_rows(r: dict[str, Any]) -> list[str]:
    """The markdown table of a variants run (Tables 5-7, delta vs paper); also used by the report."""
    lines = [
        "| Setting | F-RL↓ | R-RL↑ | Utility (ppl)↓ | KL↓ | verified edits | committed | RTE (s) | prep (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, row in r["rows"].items():
        if key == "base":
            lines.append(
                f"| Base | {_f(row['f_rl'])} | {_f(row['r_rl'])} | {_f(row['ppl'])} | – | – | – | N/A | |"
            )
            continue
        st = row.get("stamp", {})
        lines.append(
            f"| {row['method']} | {_f(row['f_rl'])} | {_f(row['r_rl'])} | {_f(row['ppl'])} | "
            f"{_f(row['kl'], 3)} | {st.get('verified')}/{st.get('n_edits')} | "
            f"{st.get('committed', st.get('n_edits'))}/{st.get('n_edits')} | {_f(row['rte_s'], 1)} | "
            f"{_f(row.get('prep_s'), 1)} |"
        )
    return lines


def variants_markdown(r: dict[str, Any]) -> str:
    lines = [
        f"### {r['kind']} (`{r['task']}`, size {r['size']}, |D_f| = {r['n_forget']})",
        "",
        *variant_rows(r),
    ]
    if "figure5" in r:
        f5 = r["figure5"]
        lines += [
            "",
            f"Figure 5 criterion: max separation {f5['max']:.3f} at layer {f5['best_layer']} "
            f"(`{f5['png']}`).",
        ]
    lines += ["", _notes(r)]
    return "\n".join(lines) + "\n"


def single_markdown(r: dict[str, Any]) -> str:
    lines = [
        f"### Table 8 — single-sample unlearning (`{r['task']}`, |D_f| = 1, mean of {len(r['requests'])} "
        f"requests; R-RL on {r['retain_scored']} retain items)",
        "",
        "| Method | F-RL↓ | Acc_f↓ | R-RL↑ | Acc_r↑ | Utility (ppl)↓ | KL↓ | RTE (s) | RTE, weight update (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, row in r["rows"].items():
        rte = "N/A" if key == "base" else _f(row.get("rte_s"), 2)
        upd = "N/A" if key == "base" or row.get("rte_edit_s") is None else _f(row["rte_edit_s"], 2)
        lines.append(
            f"| {row['method']} | {_f(row['f_rl'])} | {_f(row['acc_f'], 2, True)} | {_f(row['r_rl'])} | "
            f"{_f(row['acc_r'], 2, True)} | {_f(row['ppl'])} | {_f(row.get('kl'), 3)} | {rte} | {upd} |"
        )
    refused = {
        row["method"]: sum(not p["edit"].get("committed", True) for p in row["per_request"])
        for key, row in r["rows"].items()
        if key != "base" and row.get("per_request") and "edit" in row["per_request"][0]
    }
    if any(refused.values()):
        lines += [
            "",
            "Not committed because the edit broke the guard (those requests keep Base's answer): "
            + ", ".join(f"{m} {n}/{len(r['requests'])}" for m, n in refused.items())
            + ".",
        ]
    lines += [
        "",
        "RTE: the whole request; for STAMP that includes the α search's verification generations. "
        "Weight update: STAMP's capture + closed-form solve of the edit it returned; for a baseline its "
        "training, the same as its RTE.",
        "",
        _notes(r),
    ]
    return "\n".join(lines) + "\n"
