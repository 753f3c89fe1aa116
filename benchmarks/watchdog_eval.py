"""Evaluate the watchdog on the held-out labelled dialogues.

    python benchmarks/watchdog_eval.py [--heldout src/repair/data/watchdog_heldout.jsonl]
                                       [--llm-url http://127.0.0.1:8000/v1 --llm-model NAME] [--json out.json]

Prints recall, precision, false-positive rate and accuracy of the chat/unlearn decision, the per-example
latency of `Watchdog.inspect` (one CPU thread), and for the detected requests how often the extracted
target and the source (history vs probe) match the labels. Without --llm-url it measures the
LLM-free path (classifier + rule extractor).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "src" / "repair" / "data" / "watchdog_heldout.jsonl"


def norm(s: str | None) -> list[str]:
    s = (s or "").lower().replace("’", "'")
    s = re.sub(r"^(the|a|an)\s+", "", s.strip())
    return re.sub(r"[^a-z0-9' ]+", " ", s).split()


def target_ok(pred: str | None, gold: str | None) -> bool:
    """Equal after normalisation, or one contains the other with at most two extra words."""
    if not pred or not gold:
        return False
    p, g = norm(pred), norm(gold)
    if p == g:
        return True
    ps, gs = " ".join(p), " ".join(g)
    return (gs in ps or ps in gs) and abs(len(p) - len(g)) <= 2


def evaluate(rows: list[dict], wd) -> dict:
    tp = fp = fn = tn = 0
    lat: list[float] = []
    tgt_ok = src_ok = n_pos_hit = 0
    errors: list[str] = []
    extraction_misses: list[str] = []
    for r in rows:
        v = wd.inspect(r["history"], r["message"])
        lat.append(v.latency_s)
        gold = r["label"] == "unlearn"
        pred = v.intent == "unlearn"
        tp += gold and pred
        fp += (not gold) and pred
        fn += gold and not pred
        tn += (not gold) and not pred
        if gold != pred:
            errors.append(
                f"  {r['id']} gold={r['label']:<7} p={v.classifier_p:.3f} [{r['kind']}] {r['message']}"
            )
        if gold and pred:
            n_pos_hit += 1
            t_ok = target_ok(v.target, r["target"])
            s_ok = v.source == r["source"]
            tgt_ok += t_ok
            src_ok += s_ok
            if not (t_ok and s_ok):
                extraction_misses.append(
                    f"  {r['id']} [{r['kind']}] {r['message']!r}: target={v.target!r} (gold {r['target']!r}) "
                    f"source={v.source} (gold {r['source']})"
                )
    n = len(rows)
    lat_sorted = sorted(lat)
    return {
        "n": n,
        "n_unlearn": tp + fn,
        "n_chat": fp + tn,
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "recall": tp / max(tp + fn, 1),
        "precision": tp / max(tp + fp, 1),
        "fpr": fp / max(fp + tn, 1),
        "accuracy": (tp + tn) / max(n, 1),
        "target_accuracy": tgt_ok / max(n_pos_hit, 1),
        "source_accuracy": src_ok / max(n_pos_hit, 1),
        "latency_mean_ms": 1000 * statistics.fmean(lat),
        "latency_p50_ms": 1000 * lat_sorted[n // 2],
        "latency_p95_ms": 1000 * lat_sorted[min(n - 1, int(0.95 * n))],
        "errors": errors,
        "extraction_misses": extraction_misses,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--heldout", default=str(HELDOUT))
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--llm-url", default=None, help="OpenAI-compatible base URL for the LLM extractor")
    ap.add_argument("--llm-model", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument(
        "--llm-local",
        default=None,
        help="bundled model name for the LLM extractor, e.g. qwen2.5-coder-0.5b-instruct (slow on CPU)",
    )
    ap.add_argument("--llm-veto", action="store_true", help="let the LLM overrule the classifier in the band")
    ap.add_argument("--json", default=None, help="write the metrics here")
    ap.add_argument("--show-extraction", action="store_true", help="list extraction mismatches")
    ap.add_argument("--label", default="now", help="which watchdog this is, for `repair report`")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from repair.agents.watchdog import Watchdog, hf_generate_fn, openai_generate_fn

    extractor = openai_generate_fn(args.llm_url, args.llm_model) if args.llm_url else None
    if args.llm_local:
        import repair

        llm = repair.load(args.llm_local, ledger=False)
        extractor = hf_generate_fn(llm.model, llm.tokenizer, max_new_tokens=48)
    t0 = time.perf_counter()
    wd = Watchdog(k=args.k, extractor=extractor, llm_veto=args.llm_veto)
    wd.inspect([], "warm-up")  # loads MiniLM once; not part of per-example latency
    load_s = time.perf_counter() - t0
    rows = [json.loads(line) for line in open(args.heldout)]
    m = evaluate(rows, wd)

    print(f"held-out: {args.heldout} ({m['n']} dialogues: {m['n_unlearn']} unlearn, {m['n_chat']} chat)")
    print(
        f"classifier: {'MiniLM+lexical' if wd.classifier.use_embeddings else 'lexical-only'}, "
        f"threshold={wd.threshold}, extractor={'LLM ' + (args.llm_url or args.llm_local) if extractor else 'rules'}"
    )
    print(f"recall    {m['recall']:.4f}  ({m['tp']}/{m['n_unlearn']})")
    print(f"precision {m['precision']:.4f}  ({m['tp']}/{m['tp'] + m['fp']})")
    print(f"FPR       {m['fpr']:.4f}  ({m['fp']}/{m['n_chat']})")
    print(f"accuracy  {m['accuracy']:.4f}")
    print(
        f"target accuracy (detected requests) {m['target_accuracy']:.4f}, "
        f"source accuracy {m['source_accuracy']:.4f}"
    )
    print(
        f"latency per example: mean {m['latency_mean_ms']:.1f} ms, p50 {m['latency_p50_ms']:.1f} ms, "
        f"p95 {m['latency_p95_ms']:.1f} ms (one-time load {load_s:.1f} s)"
    )
    if m["errors"]:
        print("misclassified:")
        print("\n".join(m["errors"]))
    if args.show_extraction and m["extraction_misses"]:
        print("extraction mismatches:")
        print("\n".join(m["extraction_misses"]))
    if args.json:
        write_json(args, m)


def write_json(args: argparse.Namespace, m: dict) -> None:
    """The metrics with the set, the watchdog's label and the command (read by `repair report`)."""
    held = Path(args.heldout).resolve()
    rel = held.relative_to(ROOT) if held.is_relative_to(ROOT) else held
    cmd = "python benchmarks/watchdog_eval.py" + ("" if held == HELDOUT else f" --heldout {rel}")
    out = {"set": held.stem, "label": args.label, "command": cmd, **m}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
