"""Experiment (issue 20): single-fact edits keyed where the model is about to write the answer.

    python benchmarks/answer_keys.py [--split dev] [--layers 12,13,14,15,16] [--out /tmp/answer-keys]

STAMP-2 keys every edit on the subject's last token, so "forget the capital of Ukraine" also moves
"the flag of Ukraine" (same-subject neighbours kept 53 % on dev). This keys a fact's edit on the token
*before the answer* in the model's own reply to the question ("The capital of Ukraine is | Kyiv"), read
teacher-forced: `benchmarks/key_specificity.py --where answer` finds that position far more specific
(median reach of same-subject neighbours 0.05 at layers 12-20, paraphrases 0.67-0.83). The target there
is h + s·v, with v fitted once per model by gradient descent on v alone over the filler facts (never a
split's) so that the reply goes on "… is not something I have any information about." (or, when the
answer opens the reply, "I don't have any information about that."). The answer is found without the
gold string: the reply's first content word that the question does not contain.

Where the answer opens the reply ("Honey is …"), the row before it is the chat template's last token,
which every chat shares: such rows are dropped, and a fact with none left gets STAMP-2's subject edit.
It registers the method ``answer-keys`` (entities stay STAMP-2's) and runs the forget-quality benchmark
on it with ``--kinds fact``. Not shipped: a tool for deciding the engine's next step.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch

STOP = set(
    "the a an of is was are were in on at to by for and or it its this that which who what when where how "
    "do does did be been has have had with as from known called named famous".split()
)
MID = " not something I have any information about."
START = "I don't have any information about that."
TEMPLATES = ("What is {s}?", "Tell me {s}.", "Do you know {s}?", "Quick question: what is {s}?")


def answer_start(prompt: str, reply: str) -> tuple[int, str] | None:
    """Where the answer begins in the reply: its first content word the question does not contain."""
    asked = {m.group(0).lower() for m in re.finditer(r"[\w'-]+", prompt)}
    for m in re.finditer(r"[\w'-]+", reply):
        w = m.group(0).lower()
        if w not in STOP and w not in asked and w.removesuffix("'s") not in asked:
            return m.start(), m.group(0)
    return None


def before_answer(tok, prompt: str, reply: str, at: int) -> tuple[list[int], int]:
    """Token ids up to the token before the answer (the prompt's last token if the reply opens with it)."""
    from repair.edit.stamp2.subject import chat_ids

    ids, offsets, n_prompt, text = chat_ids(tok, prompt, reply)
    end = len(text) + at
    first = min((i for i, (_, b) in enumerate(offsets) if i >= n_prompt and b > end), default=len(ids))
    return ids[:first], first - 1


def _training_row(tok, prompt: str, reply: str) -> tuple[list[int], int] | None:
    """The question, the reply up to the answer and the refusal that replaces it; v acts at ``pos``."""
    found = answer_start(prompt, reply)
    if found is None:
        return None
    pre = reply[: found[0]].rstrip()
    ids, pos = before_answer(tok, prompt, (pre + MID) if pre else START, len(pre) if pre else 0)
    full = before_answer(tok, prompt, (pre + MID) if pre else START, 10**6)[0]
    return full + [tok.eos_token_id], pos


def fit_v(patient, layer: int, prompts: list[str], steps: int = 40, lr: float = 2.0) -> torch.Tensor:
    """Gradient descent on v alone (no weight changes): the refusal after the reply's opening."""
    from repair.edit.capture import right_padded
    from repair.edit.stamp2.vector import add_at

    tok, model = patient.tokenizer, patient.model
    rows = [
        _training_row(tok, p, r)
        for p, r in zip(prompts, patient.generate(prompts, max_new_tokens=32), strict=True)
    ]
    rows = [r for r in rows if r]
    ids, mask = right_padded([r[0] for r in rows], tok.pad_token_id or 0)
    labels = torch.full_like(ids, -100)
    for i, (seq, pos) in enumerate(rows):
        labels[i, pos + 1 : len(seq)] = ids[i, pos + 1 : len(seq)]
    v = torch.zeros(model.config.hidden_size, requires_grad=True)
    opt, block = torch.optim.Adam([v], lr=lr), patient.arch.blocks(model)[layer]
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(0)
    try:
        for _ in range(steps):
            pick = torch.randperm(len(ids), generator=gen)[:16]
            opt.zero_grad()
            with add_at(block, [[rows[i][1]] for i in pick], v):
                logits = model(input_ids=ids[pick], attention_mask=mask[pick]).logits[:, :-1].float()
            torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels[pick, 1:]).backward()
            opt.step()
    finally:
        for p, f in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(f)
    return v.detach()


def key_rows(patient, subject: str, prompt: str, reply: str) -> tuple[list[list[int]], list[list[int]]]:
    """The forget pair's row and, where the model's reply names the same answer, four templated asks."""
    found = answer_start(prompt, reply)
    if found is None:
        return [], []
    if not reply[: found[0]].strip():  # the answer opens the reply: its row is the template's last token
        return [], []
    ids, pos = before_answer(patient.tokenizer, prompt, reply, found[0])
    seqs, poss = [ids], [[pos]]
    asks = [t.format(s=subject) for t in TEMPLATES]
    for p, r in zip(asks, patient.generate(asks, max_new_tokens=32), strict=True):
        m = re.search(r"\b" + re.escape(found[1]), r, re.I)
        if m and r[: m.start()].strip():  # rows at a chat's last prompt token are every chat's
            ids, pos = before_answer(patient.tokenizer, p, r, m.start())
            seqs.append(ids), poss.append([pos])
    return seqs, poss


def forget_fact(patient, stats, v: torch.Tensor, layers: list[int], subject: str, pair) -> Any:
    """STAMP-2's band solve (MEMIT spread, ridge on C_K, template prefix held) on the answer-position rows."""
    from repair.edit.delta import Edit, MapDelta, new_edit_id
    from repair.edit.solvers import check_finite
    from repair.edit.stamp2.edit import _solve
    from repair.edit.stamp2.keep import prefix_keys
    from repair.edit.stamp2.rows import BandRows

    t0 = time.perf_counter()
    seqs, poss = key_rows(patient, subject, *pair)
    if not seqs:
        return None
    reader, held = BandRows(patient, seqs, poss, layers[-1]), prefix_keys(patient, layers)
    first = reader.read(layers[0])
    z, deltas = first[1] + v, []
    for i, layer in enumerate(layers):
        keys, top = first if i == 0 else reader.read(layer)
        resid = (z - top) / (len(layers) - i)
        a = _solve(keys.double(), stats.kfactor(layer, "down", 0.01)[0], None, held and held[layer])
        check_finite(a, resid)
        d = MapDelta(layer=layer, map="down", b=resid.T.float(), a=a.float(), keys=keys)
        reader.add(d)
        deltas.append(d)
    meta = {"method": "stamp2", "subject": subject, "layers": layers, "rows": len(seqs), "strength": 1.0}
    return Edit(id=new_edit_id(), deltas=deltas, meta=meta, timings={"total": time.perf_counter() - t0})


class AnswerKeys:
    """Facts keyed at the answer position; entities as STAMP-2 (its own unlearner, unchanged)."""

    def __init__(self, layers: list[int], name: str = "answer-keys") -> None:
        from repair.eval.unlearners import Stamp2Unlearner

        self.name, self.layers, self.entities = name, layers, Stamp2Unlearner()
        self.v: torch.Tensor | None = None

    def prepare(self, patient) -> None:
        from repair.edit.stats import stats_for
        from repair.eval.forget_quality.fillers import load_fillers

        self.entities.prepare(patient)
        self.stats = stats_for(patient, replies=-1)
        facts = load_fillers(patient.name).facts
        self.v = fit_v(patient, self.layers[-1], [f.prompt for f in facts[:: max(1, len(facts) // 64)]])

    def unlearn(self, patient, request):
        from repair.eval.unlearners import committed

        if self.v is None:
            self.prepare(patient)
        if len(request.pairs) > 1:  # an entity: the questions `repair chat` asks about it
            return self.entities.unlearn(patient, request)
        t = time.perf_counter()
        edit = forget_fact(patient, self.stats, self.v, self.layers, request.subject, request.pairs[0])
        if edit is None:  # no answer inside the reply to key on: STAMP-2's subject edit
            return self.entities.unlearn(patient, request)
        return committed(self.name, patient, edit, t, subject=request.subject)

    def undo(self, patient, applied) -> None:
        self.entities.undo(patient, applied)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="dev")
    ap.add_argument("--layers", default="12,13,14,15,16")
    ap.add_argument("--out", default="/tmp/answer-keys")
    ap.add_argument("--limit", type=int, default=0, help="only the first N known fact targets")
    args = ap.parse_args()
    import repair.eval.unlearners as u
    from repair.cli import app

    layers = [int(x) for x in args.layers.split(",")]
    u.METHODS["answer-keys"] = u.Method(u.NoConfig, lambda name, cfg: AnswerKeys(layers), interactive=True)
    u.UNLEARNERS = tuple(u.METHODS)
    argv = ["eval", "forget-quality", "--method", "answer-keys", "--split", args.split, "--kinds", "fact"]
    sys.argv = [
        "repair",
        *argv,
        "--out",
        str(Path(args.out)),
        *(["--limit", str(args.limit)] if args.limit else []),
    ]
    app()


if __name__ == "__main__":
    main()
