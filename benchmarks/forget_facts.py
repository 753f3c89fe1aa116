"""Ten single-sample edits on known facts: forgotten on the prompt and a held-out paraphrase, retain kept.

    python benchmarks/forget_facts.py                       # this project's default recipe
    python benchmarks/forget_facts.py --recipe paper        # the paper as written (eq. 4, one layer, ridge)
    python benchmarks/forget_facts.py --set positions=novel pool=rows   # any StampConfig field
    python benchmarks/forget_facts.py --only England --set "layers=[4,5,6,7,8,9,10,11,12,13,14,15]"

Each edit is undone before the next, so every row starts from the base model. Retain accuracy is the
fraction of the other known facts still answered, compared on the same fixed batch before and after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import repair
from repair.agents.surgeon import template_paraphrases
from repair.cli import DEFAULT_RETAIN_PROBES
from repair.edit.criterion import probe_forgotten
from repair.edit.stamp import parse_overrides
from repair.eval.facts import known_facts
from repair.eval.metrics import answer_match, is_refusal


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--recipe", choices=["repair", "paper"], default="repair")
    ap.add_argument("--set", nargs="*", default=[], help="StampConfig overrides, key=value")
    ap.add_argument("--only", default=None, help="edit only the forget facts whose prompt contains this")
    ap.add_argument(
        "--guard",
        action="store_true",
        help="as `repair forget` does: its retain probes are the edit's guard, all must be kept",
    )
    args = ap.parse_args()
    kw = parse_overrides(args.set)
    if args.guard:
        kw = {"guard_keep": 1.0, **kw}
    if args.recipe == "paper":
        kw = {
            "recipe": "paper",
            "solver": "paper",
            "layers": "auto",
            "maps": ["gate", "up", "down"],
            "positions": "all",
            "pool": "rows",
            **kw,
        }
    patient = repair.load(args.model, ledger=False)
    known = known_facts(patient)
    forget, retain = known[: args.n], known[args.n :]

    def correct() -> list[bool]:
        replies = patient.generate([f[0] for f in retain], max_new_tokens=32)
        return [answer_match(r, f[1]) for r, f in zip(replies, retain, strict=True)]

    base = correct()
    rows = []
    for prompt, answer, paraphrase, reply in forget:
        if args.only and args.only.lower() not in prompt.lower():
            continue
        paras = [q for q in template_paraphrases(prompt) if q.lower() != paraphrase.lower()]
        t = time.perf_counter()
        guard = {"guard": [g for g in DEFAULT_RETAIN_PROBES if g != prompt]} if args.guard else {}
        edit = repair.stamp(patient, [(prompt, reply)], answer=answer, paraphrases=paras, **guard, **kw)
        secs = time.perf_counter() - t
        after = patient.generate([prompt, paraphrase], max_new_tokens=32)
        now = correct()
        kept = sum(b and n for b, n in zip(base, now, strict=True)) / max(sum(base), 1)
        committed = not edit.meta.uncommitted_reason
        rows.append(
            {
                "prompt": prompt,
                "alpha": edit.meta.alpha,
                "layers": edit.meta.layers,
                "committed": committed,
                "forgot_prompt": probe_forgotten(after[0], answer),
                "forgot_paraphrase": probe_forgotten(after[1], answer),
                "refusal": is_refusal(after[0]),
                "retain": kept,
                "seconds": secs,
                "after": after,
            }
        )
        r = rows[-1]
        band = f"{r['layers'][0]}-{r['layers'][-1]}" if r["layers"] else "-"
        print(
            f"{prompt[:44]:44s} layers {band:5s} alpha {r['alpha']:6.4g} prompt {r['forgot_prompt']!s:5} "
            f"held-out {r['forgot_paraphrase']!s:5} retain {kept:.2f} {secs:5.1f} s | {after[0][:50]!r}",
            flush=True,
        )
        if committed:  # an edit the guard refused was never applied: the row is the base model's
            patient.ledger.undo(edit.id)
    both = sum(r["forgot_prompt"] and r["forgot_paraphrase"] for r in rows)
    print(
        json.dumps(
            {
                "model": args.model,
                "recipe": args.recipe,
                "overrides": kw,
                "n": len(rows),
                "committed": sum(r["committed"] for r in rows),
                "forgotten_prompt": sum(r["forgot_prompt"] for r in rows),
                "forgotten_prompt_and_paraphrase": both,
                "refusals": sum(r["refusal"] for r in rows),
                "retain_mean": round(statistics.mean(r["retain"] for r in rows), 3),
                "retain_min": round(min(r["retain"] for r in rows), 3),
                "median_edit_s": round(statistics.median(r["seconds"] for r in rows), 2),
                "base_retain_facts": sum(base),
            }
        )
    )


if __name__ == "__main__":
    main()
