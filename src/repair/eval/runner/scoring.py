"""Scoring one model on a task: greedy replies, answer and ROUGE-L metrics, utility perplexity, KL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from repair.eval import metrics as M
from repair.eval.tasks import QA, TaskData, generic_prompts, utility_corpus
from repair.models.chat import adds_special_tokens, render_chat
from repair.models.decoding import greedy

from .config import RunConfig


@torch.no_grad()
def generate(
    model,
    tok,
    prompts: Sequence[str],
    *,
    max_new_tokens: Sequence[int] | int = 64,
    batch_size: int = 16,
    progress: bool = False,
    desc: str = "generate",
) -> list[str]:
    """Greedy chat replies, as `Patient.generate` gives them, batched by similar answer budget so a
    batch of short answers stops early."""
    budgets = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    order = sorted(range(len(prompts)), key=lambda i: budgets[i])
    out: list[str] = [""] * len(prompts)
    dev = next(model.parameters()).device
    side = tok.padding_side
    tok.padding_side = "left"  # generation continues from the right edge
    model.eval()
    try:
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for idx in tqdm(chunks, desc=desc, disable=not progress, leave=False):
            texts = [render_chat(tok, [{"role": "user", "content": prompts[i]}]) for i in idx]
            special = adds_special_tokens(tok)
            batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=special).to(dev)
            # the project's one greedy decoder (the replies of HF's greedy generate, token for token)
            gen = greedy(
                model,
                tok,
                batch["input_ids"],
                batch["attention_mask"],
                max_new_tokens=max(budgets[i] for i in idx),
            )
            for i, o in zip(idx, gen, strict=True):
                out[i] = tok.decode(o, skip_special_tokens=True).strip()
    finally:
        tok.padding_side = side
    return out


class Evaluator:
    """Scores models on one task against a fixed Base (KL reference) with fixed utility data."""

    def __init__(
        self,
        task: TaskData,
        base_model,
        tok,
        cfg: RunConfig,
        *,
        forget: Sequence[QA] | None = None,
        retain: Sequence[QA] | None = None,
        n_ppl: int | None = None,
        n_kl: int | None = None,
    ) -> None:
        self.task, self.base, self.tok, self.cfg = task, base_model, tok, cfg
        self.forget = list(task.forget if forget is None else forget)
        self._task_forget = (
            self.forget if forget is None else None
        )  # the whole task: neighbours are scored too
        self.retain = list(task.retain if retain is None else retain)
        source = cfg.corpus
        if source == "auto":
            try:
                corpus = utility_corpus(n_ppl or cfg.n_ppl, source="garak-books", seed=cfg.seed)
            except (FileNotFoundError, OSError):
                corpus = utility_corpus(n_ppl or cfg.n_ppl, source="python-docs", seed=cfg.seed)
        else:
            corpus = utility_corpus(n_ppl or cfg.n_ppl, source=source, seed=cfg.seed)  # type: ignore[arg-type]
        self.corpus = corpus
        self.kl_prompts = generic_prompts(n_kl or cfg.n_kl)

    def budget(self, q: QA) -> int:
        n = len(self.tok(q.response, add_special_tokens=False)["input_ids"])
        return min(self.cfg.max_new_tokens, int(1.3 * n) + 8)

    def score(self, model, *, desc: str = "score", reference: bool = True) -> dict[str, Any]:
        qs = self.forget + self.retain
        t0 = time.perf_counter()
        gens = generate(
            model,
            self.tok,
            [q.prompt for q in qs],
            max_new_tokens=[self.budget(q) for q in qs],
            batch_size=self.cfg.gen_batch_size,
            progress=self.cfg.progress,
            desc=desc,
        )
        gf, gr = gens[: len(self.forget)], gens[len(self.forget) :]
        res: dict[str, Any] = {
            **M.acc_f_acc_r(gf, self.forget, gr, self.retain),
            **M.f_rl_r_rl(gf, self.forget, gr, self.retain),
            "refusal_f": M.refusal_rate(gf),
            "refusal_r": M.refusal_rate(gr),
        }
        if self.task.name == "misinformation":  # does the edit bring back the truth, or just remove the lie?
            res["true_f"] = M.accuracy(gf, [q.meta["true_answer"] for q in self.forget])
        if self.task.neighbours and self.forget is self._task_forget:
            gn = generate(
                model,
                self.tok,
                [q.prompt for q in self.task.neighbours],
                max_new_tokens=24,
                batch_size=self.cfg.gen_batch_size,
            )
            res["acc_n"] = M.accuracy(gn, [q.answer for q in self.task.neighbours])
        res["ppl"] = M.perplexity(model, self.tok, self.corpus.texts, batch_size=8, max_length=256)
        res["kl"] = (
            M.mean_kl(self.base, model, self.tok, self.kl_prompts, chat=True, positions="last")
            if reference
            else 0.0
        )
        res["eval_s"] = time.perf_counter() - t0
        res["samples"] = {
            "forget": [
                {"prompt": q.prompt, "gold": q.response, "reply": g}
                for q, g in zip(self.forget, gf, strict=True)
            ],
            "retain": [
                {"prompt": q.prompt, "gold": q.response, "reply": g}
                for q, g in zip(self.retain, gr, strict=True)
            ],
        }
        return res
