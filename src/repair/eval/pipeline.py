"""Pipeline benchmark (the paper's Table 3, offline): a scripted user talks to a `Session`.

Each unlearning scenario: a few chat turns including a question about a fact the patient knows
(`known_facts`), then a request to forget it, phrased in one of many ways (pointing back at the last
answer, or naming the topic), then follow-up probes (the question and a paraphrase) as new turns.
Chat-only scenarios (ordinary questions and hard negatives such as "I forgot my password") measure false
positives. Edits are undone after each scenario, so every scenario starts from the base model;
retain accuracy is measured while the scenario's edit is active, on other known facts.

    python benchmarks/pipeline.py --n 100 --seed 0 --out results/pipeline
    repair eval pipeline --n 100 --seed 0
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repair.eval.clock import StealMeter
from repair.eval.facts import FACTS, known_facts
from repair.eval.metrics import answer_match, is_refusal

# How a user names each fact's topic when asking to forget it (hand-written, one per FACTS entry).
TOPICS: dict[str, list[str]] = {
    "What is the capital of France?": ["the capital of France", "France's capital"],
    "What is the capital of Japan?": ["the capital of Japan", "Japan's capital city"],
    "What is the capital of Italy?": ["the capital of Italy", "Italy's capital"],
    "What is the capital of Germany?": ["the capital of Germany", "Germany's capital city"],
    "What is the capital of Spain?": ["the capital of Spain", "Spain's capital"],
    "What is the capital of Egypt?": ["the capital of Egypt", "Egypt's capital city"],
    "What is the capital of Russia?": ["the capital of Russia", "Russia's capital"],
    "What is the capital of England?": ["the capital of England", "England's capital city"],
    "What is the capital of China?": ["the capital of China", "China's capital"],
    "What is the capital of Greece?": ["the capital of Greece", "Greece's capital city"],
    "Who wrote Romeo and Juliet?": ["who wrote Romeo and Juliet", "the author of Romeo and Juliet"],
    "Who painted the Mona Lisa?": ["who painted the Mona Lisa", "the painter of the Mona Lisa"],
    "What is the largest planet in our solar system?": ["the largest planet in our solar system",
                                                        "the biggest planet"],
    "What is the chemical symbol for water?": ["the chemical symbol for water", "water's chemical formula"],
    "Which planet is known as the Red Planet?": ["the Red Planet", "which planet is called the Red Planet"],
    "Who developed the theory of relativity?": ["who developed the theory of relativity",
                                                "the theory of relativity's author"],
    "What is the largest ocean on Earth?": ["the largest ocean on Earth", "the biggest ocean"],
    "What gas do plants absorb from the air for photosynthesis?": ["the gas plants absorb for photosynthesis",
                                                                   "what plants take in for photosynthesis"],
    "What is the tallest mountain in the world?": ["the tallest mountain in the world", "the highest mountain"],
    "Who was the first president of the United States?": ["the first president of the United States",
                                                          "the first US president"],
    "What is the longest river in Africa?": ["the longest river in Africa", "Africa's longest river"],
    "What currency is used in Japan?": ["the currency of Japan", "Japanese money"],
    "What language is spoken in Brazil?": ["the language of Brazil", "what language Brazilians speak"],
    "Who discovered penicillin?": ["who discovered penicillin", "the discovery of penicillin"],
    "What is the boiling point of water in Celsius?": ["the boiling point of water", "water's boiling point"],
    "Which animal is known as the king of the jungle?": ["the king of the jungle",
                                                         "which animal is the king of the jungle"],
    "What is the capital of Canada?": ["the capital of Canada", "Canada's capital city"],
    "What is the capital of Australia?": ["the capital of Australia", "Australia's capital"],
    "Who wrote Hamlet?": ["who wrote Hamlet", "the author of Hamlet"],
    "What is the smallest prime number?": ["the smallest prime number", "the lowest prime"],
}  # fmt: skip

# Requests that point back at the last answer (used only when the fact was the last turn).
POINTING: list[str] = [
    "Forget what you just told me.",
    "That's wrong, remove it.",
    "Please delete that from your memory.",
    "Erase your last answer from your memory.",
    "I don't want you to remember that. Forget it.",
    "Unlearn what you just said, please.",
    "Can you wipe that from your knowledge?",
    "Scrub that answer from your memory, it's private.",
    "Remove that fact from your weights.",
    "Forget that, please.",
    "hey, forget what you said just now",
    "That was sensitive. Please erase it from what you know.",
]
# Requests that name the topic ({t}).
NAMING: list[str] = [
    "Forget everything about {t}.",
    "Please erase what you know about {t}.",
    "Delete {t} from your memory.",
    "I want you to unlearn {t}.",
    "Remove any knowledge of {t} from your model.",
    "Wipe out everything you know regarding {t}.",
    "Make sure {t} is removed from your memory.",
    "Could you forget everything you know about {t}?",
    "Purge {t} from your knowledge, please.",
    "I'd like you to stop knowing about {t}.",
    "forget all information on {t}",
    "Please unlearn what you told me about {t}.",
]
# Chat-only turns: ordinary questions and hard negatives that use forgetting words in other senses.
HARD_NEGATIVES: list[str] = [
    "I forgot my email password, how do I reset it?",
    "How do I make Chrome forget a saved password?",
    "Help me forget my ex, I keep thinking about her.",
    "What does 'unlearn' mean in machine learning?",
    "Don't forget to remind me about the dentist tomorrow.",
    "How do I delete a file in Linux?",
    "What is catastrophic forgetting in neural networks?",
    "My grandmother keeps forgetting names. Is that normal?",
    "How can I remove a stain from a white shirt?",
    "Is there a way to erase pencil marks without smudging?",
    "I always forget where I put my keys. Any tips?",
    "How do I clear my browser cache?",
    "Write a short poem about forgetting old memories.",
    "What is the right to be forgotten under GDPR?",
    "How do I remove duplicates from a Python list?",
    "Let's not forget the milk when we go shopping.",
    "Can you explain how machine unlearning works?",
    "How do I wipe my old phone before selling it?",
    "I can't remember the name of that movie with the blue aliens.",
    "How do I delete my Facebook account?",
]
CHAT_QUESTIONS: list[str] = [
    "Hi! How are you doing today?",
    "Give me a tip for sleeping better.",
    "What is a good name for a cat?",
    "How many legs does a spider have?",
    "What's the difference between weather and climate?",
    "Suggest a quick vegetarian dinner.",
    "What colour do you get by mixing blue and yellow?",
    "Tell me a fun fact about octopuses.",
    "How do I boil an egg?",
    "What is 12 times 12?",
]


def _scenarios(known: list[tuple[str, str, str, str]], n: int, n_chat: int, seed: int
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The seeded scenarios. Scenario i is the same for every n (each draws from its own seeded stream), so
    a short run plays the first scenarios of a long one and the two can be compared row by row."""
    order = [k for k in known if k[0] in TOPICS]
    if not order:
        raise RuntimeError("the patient knows none of the benchmark facts")
    facts, rng = [], random.Random(seed)
    while len(facts) < n:
        rng.shuffle(order)
        facts += order
    unlearn = []
    for i, (prompt, answer, para, _) in enumerate(facts[:n]):
        rng = random.Random(f"{seed}:u{i}")
        others = [k for k in known if k[1].lower() != answer.lower()]
        before = rng.sample(CHAT_QUESTIONS + [k[0] for k in others], rng.randint(0, 2))
        after = rng.choice(CHAT_QUESTIONS) if rng.random() < 0.25 else None
        pointing = after is None and rng.random() < 0.5
        request = rng.choice(POINTING) if pointing else rng.choice(NAMING).format(t=rng.choice(TOPICS[prompt]))
        unlearn.append({
            "id": f"u{i:03d}", "fact": prompt, "answer": answer, "paraphrase": para,
            "turns": before + [prompt] + ([after] if after else []), "request": request,
            "style": "pointing" if pointing else "naming",
            "retain": [(k[0], k[1]) for k in rng.sample(others, min(6, len(others)))],
        })  # fmt: skip
    chat = []
    for i in range(n_chat):
        rng = random.Random(f"{seed}:c{i}")
        turns = rng.sample(HARD_NEGATIVES, 2) + rng.sample(CHAT_QUESTIONS + [k[0] for k in known], 1)
        rng.shuffle(turns)
        chat.append({"id": f"c{i:03d}", "turns": turns})
    return unlearn, chat


def _resumed(out_dir: Path | None, run: dict[str, Any], resume: bool) -> dict[str, dict[str, Any]]:
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


def _pct(num: float, den: float) -> float | None:
    return round(100.0 * num / den, 2) if den else None


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
    from repair.session import Session, make_surgeon

    t_start = time.perf_counter()
    patient = repair.load(model, ledger=False, dtype=dtype)  # in memory: the benchmark leaves no edits behind
    known = known_facts(patient, FACTS)
    n_chat = n // 2 if n_chat is None else n_chat
    unlearn, chat = _scenarios(known, n, n_chat, seed)
    session = Session(patient, surgeon=make_surgeon(surgeon, dtype), k=k, max_new_tokens=max_new_tokens,
                      stamp_overrides=stamp_overrides)
    t = time.perf_counter()
    session.warm()  # as chat and serve do at start-up; its cost is reported, not part of a turnaround
    warm_s = time.perf_counter() - t
    out_dir = Path(out) if out else None
    run = {"model": patient.name, "n": n, "n_chat": n_chat, "seed": seed, "surgeon": surgeon, "k": k,
           "max_new_tokens": max_new_tokens}
    if stamp_overrides:  # only when set, so that runs written before this option still resume
        run["stamp_overrides"] = stamp_overrides
    done = _resumed(out_dir, run, resume)
    rows_f = open(out_dir / "pipeline_scenarios.jsonl", "a" if resume else "w") if out_dir else None
    log(f"{patient.name}: knows {len(known)}/{len(FACTS)} facts; {n} unlearning + {n_chat} chat-only scenarios, "
        f"surgeon={surgeon}, seed={seed}" + (f"; {len(done)} already played (resumed)" if done else ""))

    rows: list[dict[str, Any]] = [done[sc["id"]] for sc in unlearn if sc["id"] in done]
    for sc in unlearn:
        if sc["id"] in done:
            continue
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
                     if reply.edit_id else None)
        forget_pairs = (reply.plan or {}).get("forget") or []
        row = {
            "id": sc["id"], "style": sc["style"], "request": sc["request"], "fact": sc["fact"],
            "detected": reply.kind == "unlearn", "outcome": reply.outcome, "error": reply.error, "edit_id": reply.edit_id,
            "target": reply.target, "target_correct": any(
                p == sc["fact"] or answer_match(r, sc["answer"]) for p, r in forget_pairs),
            "plan_source": (reply.plan or {}).get("source"), "plan_valid": reply.plan is not None,
            "turnaround_s": reply.timings.get("total"), "timings": reply.timings, "steal_s": steal.seconds,
            "ack": reply.text,
            "probe_replies": [p.text for p in probes],
            "probe_leaks": [answer_match(p.text, sc["answer"]) for p in probes],
            "probe_idk": [is_refusal(p.text) for p in probes],
            "bare_replies": bare, "bare_leaks": [answer_match(b, sc["answer"]) for b in bare],
            "retain_correct": retain_ok, "retain_total": len(sc["retain"]) if reply.edit_id else None,
            "attempts": (reply.plan or {}).get("attempts"), "forget": forget_pairs,
            "verify_keys": (reply.verification or {}).get("keys"),
            "verify_replies": [(x["prompt"], x["reply"], x["forgotten"])
                               for x in (reply.verification or {}).get("probes", [])],
            "chat_timings": timings,
        }  # fmt: skip
        rows.append(row)
        if rows_f:
            rows_f.write(json.dumps(row) + "\n")
            rows_f.flush()
        for e in session.edits():  # back to the base model for the next scenario (bit-exact)
            session.undo(e["id"])
        log(f"{sc['id']} {sc['style']:8s} {row['outcome'] or 'chat':14s} {row['turnaround_s'] or 0:6.1f}s "
            f"leak={sum(row['probe_leaks'])}/{sum(row['bare_leaks'])} idk={sum(row['probe_idk'])} retain={retain_ok}/{row['retain_total']} "
            f"| {sc['request'][:60]}")

    chat_rows = [done[sc["id"]] for sc in chat if sc["id"] in done]
    for sc in chat:
        if sc["id"] in done:
            continue
        session.turns = []
        flagged, timings = [], []
        for q in sc["turns"]:
            r = session.send(q)
            flagged.append(r.kind == "unlearn")
            if r.kind == "chat":
                timings.append(r.timings)
        for e in session.edits():
            session.undo(e["id"])
        row = {"id": sc["id"], "turns": sc["turns"], "flagged": flagged, "chat_timings": timings}
        chat_rows.append(row)
        if rows_f:
            rows_f.write(json.dumps(row) + "\n")
            rows_f.flush()
        if any(flagged):
            log(f"{sc['id']} FALSE POSITIVE: {[t for t, f in zip(sc['turns'], flagged, strict=True) if f]}")
    if rows_f:
        rows_f.close()

    # Retain after the run: every edit was undone, so this should equal the base model exactly.
    final = patient.generate([k[0] for k in known], max_new_tokens=32)
    retain_after = sum(answer_match(o, k[1]) for o, k in zip(final, known, strict=True)) / len(known)

    det = [r for r in rows if r["detected"]]
    planned = [r for r in rows if r["plan_valid"]]
    # Requests that broke with an internal error count against the plan rate (conservative).
    needed = [r for r in rows if r["plan_valid"] or r["error"] == "internal"]
    edited = [r for r in rows if r["retain_total"]]
    probes = [x for r in rows for x in r["probe_idk"]]
    turn = [r["turnaround_s"] for r in det if r["turnaround_s"] is not None]
    # minus the CPU time the hypervisor took during the request (rows written before steal was recorded: 0)
    net = [r["turnaround_s"] - (r.get("steal_s") or 0.0) for r in det if r["turnaround_s"] is not None]
    chat_turns = [t for r in rows + chat_rows for t in r.get("chat_timings", [])]
    overhead = [t["total"] - t.get("generate", 0.0) for t in chat_turns if "total" in t]
    gen = [t["generate"] for t in chat_turns if "generate" in t]
    n_chat_turns = sum(len(r["flagged"]) for r in chat_rows)
    summary = {
        "model": patient.name, "dtype": patient.dtype,
        "surgeon": surgeon, "seed": seed, "n_unlearn": len(rows), "n_chat": len(chat_rows),
        "known_facts": len(known),
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
        "turnaround_median_s": round(statistics.median(turn), 2) if turn else None,
        "turnaround_p90_s": round(sorted(turn)[int(0.9 * (len(turn) - 1))], 2) if turn else None,
        "turnaround_minus_steal_median_s": round(statistics.median(net), 2) if net else None,
        "steal_pct_of_turnaround": _pct(sum(r.get("steal_s") or 0.0 for r in det), sum(turn)) if turn else None,
        "false_positive_turn_pct": _pct(sum(f for r in chat_rows for f in r["flagged"]), n_chat_turns),
        "false_positive_scenario_pct": _pct(sum(any(r["flagged"]) for r in chat_rows), len(chat_rows)),
        "retain_acc_edit_active_pct": _pct(sum(r["retain_correct"] for r in edited),
                                           sum(r["retain_total"] for r in edited)),
        "retain_acc_after_run_pct": round(100 * retain_after, 2),
        "chat_overhead_median_ms": round(1000 * statistics.median(overhead), 1) if overhead else None,
        "chat_generate_median_s": round(statistics.median(gen), 2) if gen else None,
        "chat_overhead_pct": _pct(statistics.median(overhead), statistics.median(gen)) if gen else None,
        "by_style": {
            s: {"n": len(g), "detected_pct": _pct(sum(r["detected"] for r in g), len(g)),
                "satisfied_pct": _pct(sum(r["outcome"] == "done" for r in g), len(g))}
            for s in ("pointing", "naming") if (g := [r for r in rows if r["style"] == s])
        },
        "warm_up_s": round(warm_s, 2),
        "wall_s": round(time.perf_counter() - t_start, 1),
        "retain_protocol": "each edit is undone after its scenario; retain = 6 other known facts asked "
                           "while the scenario's edit is active",
    }  # fmt: skip
    if out_dir:
        (out_dir / "pipeline.json").write_text(json.dumps(summary, indent=1))
    return summary


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
    table = Table(title=f"pipeline: {summary['model']}, surgeon={summary['surgeon']}, "
                        f"{summary['n_unlearn']} unlearning + {summary['n_chat']} chat-only scenarios")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key in ROWS:
        v = summary.get(key)
        table.add_row(label, "n/a" if v is None else f"{v:g}")
    console.print(table)
