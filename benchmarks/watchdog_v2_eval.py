"""Score the watchdog's fast path on the hand-written v2 sets (repair/data/watchdog_v2).

    python benchmarks/watchdog_v2_eval.py [--split dev|dev2|dev3|dev4|dev5|dev6|test] [--json out.json] [--show-misses]
                                          [--llm qwen2.5-coder-0.5b-instruct] [--label NAME]

Runs `Watchdog(k=4)` with its default classifier (MiniLM + lexical head) and the rule extractor, no LLM
unless --llm names a bundled model (then the unsure band and non-English turns with a forget verb go to
it; its time is reported separately as the LLM path), on one CPU thread, and prints overall, per language and per class: recall of the unlearn decision,
false-positive rate on chat, the right-target rate among gold requests (exact, see
`repair.agents.watchdog_sets.target_right`; a missed request counts as a wrong target) and the same
among the detected requests, and the median latency of `Watchdog.inspect` per dialogue.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from repair.agents.watchdog_sets import SPLITS, Dialogue, load_set, predicted_turns, target_right


def run(dialogues: list[Dialogue], wd) -> list[dict]:
    """One record per dialogue: gold and predicted intent, the target, whether it is right, latency."""
    out = []
    for d in dialogues:
        v = wd.inspect([m.model_dump() for m in d.history], d.message)
        pred = v.intent == "unlearn"
        out.append({
            "id": d.id, "lang": d.lang, "class": d.cls, "gold": d.intent, "pred": v.intent,
            "p": round(v.classifier_p, 4), "target": v.target, "source": v.source,
            "turns": sorted(predicted_turns(d, v.pairs)),
            "gold_turns": d.gold.turns if d.gold else None, "gold_subject": d.gold.subject if d.gold else None,
            "right": bool(pred and d.intent == "unlearn" and target_right(d, v.target, v.pairs)),
            "latency_ms": 1000 * v.latency_s, "llm_ms": 1000 * getattr(v, "llm_s", 0.0), "lang_detected": getattr(v, "lang", None),
            "message": d.message,
        })  # fmt: skip
    return out


def summarise(recs: list[dict]) -> dict:
    req = [r for r in recs if r["gold"] == "unlearn"]
    chat = [r for r in recs if r["gold"] == "chat"]
    tp = sum(r["pred"] == "unlearn" for r in req)
    fp = sum(r["pred"] == "unlearn" for r in chat)
    right = sum(r["right"] for r in req)
    return {
        "n": len(recs), "n_unlearn": len(req), "n_chat": len(chat),
        "recall": tp / len(req) if req else None,
        "fpr": fp / len(chat) if chat else None,
        "target_rate": right / len(req) if req else None,
        "target_rate_detected": right / tp if tp else None,
        "latency_p50_ms": statistics.median(r["latency_ms"] for r in recs) if recs else None,
        # the fast path: dialogues the LLM did not see (all of them without --llm)
        "fast_p50_ms": statistics.median(fast) if (fast := [r["latency_ms"] for r in recs if not r.get("llm_ms")]) else None,
        "fast_max_ms": max(fast) if fast else None,
        "n_llm": len(slow := [r["llm_ms"] for r in recs if r.get("llm_ms")]),
        "llm_p50_ms": statistics.median(slow) if slow else None,
    }  # fmt: skip


def breakdown(recs: list[dict]) -> dict:
    def by(key: str) -> dict[str, dict]:
        return {k: summarise([r for r in recs if r[key] == k]) for k in sorted({r[key] for r in recs})}

    return {"overall": summarise(recs), "by_lang": by("lang"), "by_class": by("class")}


def _f(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


def table(title: str, rows: dict[str, dict]) -> str:
    head = f"{title:<14} {'n':>4} {'req':>4} {'chat':>4}  recall    FPR  target  tgt|det  fast p50 ms  LLM n  LLM p50 s"
    lines = [head]
    for name, m in rows.items():
        fast = "     -" if m["fast_p50_ms"] is None else f"{m['fast_p50_ms']:6.1f}"
        llm = "     -" if m["llm_p50_ms"] is None else f"{m['llm_p50_ms'] / 1000:6.1f}"
        lines.append(
            f"{name:<14} {m['n']:>4} {m['n_unlearn']:>4} {m['n_chat']:>4}  {_f(m['recall'])} {_f(m['fpr'])} "
            f"{_f(m['target_rate'])}  {_f(m['target_rate_detected'])}       {fast}  {m['n_llm']:>5}     {llm}"
        )
    return "\n".join(lines)


def show_misses(recs: list[dict]) -> None:
    for r in recs:
        if (r["gold"] == "unlearn") != (r["pred"] == "unlearn"):
            print(f"  {r['id']} [{r['class']}/{r['lang']}] gold={r['gold']} p={r['p']:.3f}: {r['message']}")
        elif r["gold"] == "unlearn" and not r["right"]:
            print(
                f"  {r['id']} [{r['class']}/{r['lang']}] target={r['target']!r} turns={r['turns']} "
                f"(gold {r['gold_subject']!r} turns={r['gold_turns']}): {r['message']}"
            )


def write_json(args: argparse.Namespace, m: dict, recs: list[dict]) -> None:
    """The metrics, the command that reproduces them and the per-dialogue records (read by `repair report`)."""
    cmd = f"python benchmarks/watchdog_v2_eval.py --split {args.split}" + (
        f" --llm {args.llm}" if args.llm else ""
    )
    out = {"set": f"watchdog_v2/{args.split}", "label": args.label, "llm": args.llm, "command": cmd,
           "split": args.split, "k": args.k, **m, "records": recs}  # fmt: skip
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=list(SPLITS), default="test")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--json", default=None, help="write the metrics (and per-dialogue records) here")
    ap.add_argument("--show-misses", action="store_true", help="list wrong decisions and wrong targets")
    ap.add_argument("--llm", default=None, help="a bundled model as the LLM extractor (loaded on first use)")
    ap.add_argument(
        "--label", default="now", help="which watchdog this is, for the report (e.g. now, before)"
    )
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from repair.agents.watchdog import Watchdog

    extractor = None
    if args.llm:
        from repair.agents.watchdog import lazy_generate_fn

        extractor = lazy_generate_fn(args.llm)
    t0 = time.perf_counter()
    wd = Watchdog(k=args.k, extractor=extractor)
    wd.inspect([], "warm-up")  # loads MiniLM once; not part of the per-dialogue latency
    load_s = time.perf_counter() - t0
    recs = run(load_set(args.split), wd)
    m = breakdown(recs)

    o = m["overall"]
    print(
        f"watchdog_v2/{args.split}.jsonl: {o['n']} dialogues ({o['n_unlearn']} requests, {o['n_chat']} chat); "
        f"classifier {'MiniLM+lexical' if wd.classifier.use_embeddings else 'lexical-only'}, "
        f"threshold {wd.threshold:.3f}, rule extractor, LLM {args.llm or 'none'}, k={args.k}, load {load_s:.1f} s"
    )
    if o["n_llm"]:
        print(f"fast path p50 {o['fast_p50_ms']:.1f} ms (max {o['fast_max_ms']:.1f}); LLM path: "
              f"{o['n_llm']} dialogues, p50 {o['llm_p50_ms'] / 1000:.1f} s")  # fmt: skip
    print(
        "target = right target among all gold requests (a miss counts wrong); tgt|det = among detected ones"
    )
    print(table("overall", {"all": o}))
    print(table("language", m["by_lang"]))
    print(table("class", m["by_class"]))
    if args.show_misses:
        show_misses(recs)
    if args.json:
        write_json(args, m, recs)


if __name__ == "__main__":
    main()
