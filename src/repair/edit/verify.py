"""Check that an edited patient no longer gives out the forgotten content."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from repair.edit.answers import first_key_answer
from repair.edit.capture import encode, right_padded
from repair.edit.criterion import label, probe_forgotten
from repair.edit.record import GuardCheck, ProbeCheck, Verification
from repair.edit.settings import GUARD_KEEP
from repair.eval.metrics import answer_match
from repair.models.chat import chat_token_ids


def forgot(
    patient,
    probes: list[str],
    answer: str,
    max_new_tokens: int = 32,
    *,
    quick: bool = False,
    guard: list[GuardQuestion] | None = None,
    guard_total: int = 0,
    guard_keep: float = GUARD_KEEP,
) -> Verification:
    """Generate the probes and check each reply. ``quick`` (a step of the α search): stop at the first
    reply that gives the answer (the verdict is then "not forgotten" and the other replies are cut
    short); a "forgotten" verdict is always complete. Fewer tokens would be cheaper but let late leaks
    pass: with 16 the ten-fact benchmark took England at α 34 instead of 51 and its held-out paraphrase
    leaked. ``guard``: questions whose answers must survive, checked in the same decoding loop (see
    ``probe_with_guard``); a forgotten verdict's guard counts those still answered out of ``guard_total``
    (one that leaks needs none: the search goes on)."""
    replies, survivors = probe_with_guard(
        patient,
        probes,
        lambda r: not probe_forgotten(r, answer),
        guard or [],
        quick=quick,
        max_new_tokens=max_new_tokens,
    )
    checks = [
        ProbeCheck(prompt=p, reply=r, label=label(r, not probe_forgotten(r, answer)))
        for p, r in zip(probes, replies, strict=True)
    ]
    ver = Verification.of(checks)
    if guard_total and ver.forgotten and survivors is not None:
        ver.guard = guard_verdict(len(survivors), guard_total, guard_keep)
    return ver


def probe_with_guard(
    patient,
    probes: list[str],
    leaks: Callable[[str], bool],
    guard: list[GuardQuestion],
    *,
    quick: bool = False,
    max_new_tokens: int = 32,
) -> tuple[list[str], list[GuardQuestion] | None]:
    """The probes' replies and the guard questions still answered (``guard_kept``), from one decoding
    loop: the guard questions a teacher-forced forward does not prove ride along with the probes, each
    leaving the batch once its answer appears (a second loop would repeat the per-step overhead, and a
    quick check that finds a leak ends both at once). ``quick``: the batch stops at the first probe
    reply that ``leaks``; the survivors are then None (not decided)."""
    proven = still_answers(
        patient, [g.question for g in guard], [g.reply for g in guard], [g.gold for g in guard]
    )
    rest = [g for g, ok in zip(guard, proven, strict=True) if not ok]
    n = len(probes)
    outs = patient.generate(
        probes + [g.question for g in rest],
        max_new_tokens=max_new_tokens,
        stop_when=(lambda i, r: i < n and leaks(r)) if quick else None,
        # without guard rows no per-row stop is needed (each criterion decodes every row at every step)
        until=(lambda i, r: i >= n and answer_match(r, rest[i - n].golds)) if rest else None,
    )
    replies = outs[:n]
    if quick and any(leaks(r) for r in replies):
        return replies, None
    return replies, [g for g, ok in zip(guard, proven, strict=True) if ok] + _answered_again(rest, outs[n:])


def guard_verdict(kept: int, total: int, keep: float = GUARD_KEEP) -> GuardCheck:
    """How many check questions an edit left answered, and whether that is enough (no questions: ok)."""
    return GuardCheck(kept=kept, total=total, ok=total == 0 or kept >= keep * total)


class GuardQuestion(NamedTuple):
    """A question an edit must leave answered, with the model's reply before the edit."""

    question: str
    golds: list[str]  # any of these in a reply counts as answered
    reply: str  # the model's reply before the edit (greedy)
    gold: str  # the gold that reply states


def guard_questions(
    patient, prompts: list[str], golds: list[list[str]] | None = None, max_new_tokens: int = 32
) -> list[GuardQuestion]:
    """The prompts the model answers now, as guard questions: with ``golds``, those whose reply states
    one; without, those whose reply has a key answer (a name or number, see ``key_answers``), which
    becomes the gold. Only replies that a teacher-forced forward reproduces are kept, so that after an
    edit only questions whose reply really changed need generating (``guard_kept``)."""
    replies = patient.generate(prompts, max_new_tokens=max_new_tokens)
    out = []
    for i, (q, r) in enumerate(zip(prompts, replies, strict=True)):
        # without golds: the key answer the reply states first (later ones are often digressions)
        cands = golds[i] if golds is not None else [k for k in [first_key_answer(q, r)] if k]
        hit = next((g for g in cands if answer_match(r, g)), None)
        if hit is not None:
            out.append(GuardQuestion(q, list(cands), r, hit))
    proven = still_answers(patient, [g.question for g in out], [g.reply for g in out], [g.gold for g in out])
    return [g for g, ok in zip(out, proven, strict=True) if ok]


def guard_kept(patient, guard: list[GuardQuestion], max_new_tokens: int = 32) -> list[GuardQuestion]:
    """The guard questions the model (as it is now, an edit applied, say) still answers, each with the
    reply it gives now: the guard set of the edited model. A teacher-forced forward proves most; only
    the others are generated, each stopping once its answer appears."""
    if not guard:
        return []
    return probe_with_guard(patient, [], lambda r: False, guard, max_new_tokens=max_new_tokens)[1] or []


def _answered_again(rest: list[GuardQuestion], outs: list[str]) -> list[GuardQuestion]:
    """The regenerated guard questions that still state an answer, with their new reply (it stops where
    its answer appears, which is what ``still_answers`` re-proves next time)."""
    return [
        g._replace(reply=o, gold=next(x for x in g.golds if answer_match(o, x)))
        for o, g in zip(outs, rest, strict=True)
        if answer_match(o, g.golds)
    ]


def _answer_end(tok, response_ids: list[int], answer: str) -> int | None:
    """The number of response tokens up to the end of the answer's first mention, or None."""
    for k in range(1, len(response_ids) + 1):
        if answer_match(tok.decode(response_ids[:k], skip_special_tokens=True), answer):
            return k
    return None


@torch.no_grad()
def still_answers(
    patient, prompts: list[str], response: str | list[str], answer: str | list[str]
) -> list[bool]:
    """Per prompt: True when greedy decoding certainly still states the answer, i.e. the model's argmax
    reproduces the response token by token up to the end of the answer (one teacher-forced forward,
    the cost of a generation step). False means "not proven": generation has to decide. ``response``
    and ``answer`` are one for all prompts or one per prompt. Ties at the last logit decimal can differ
    from batched generation, so this only ever decides what is cheap to re-check."""
    n = len(prompts)
    responses = [response] * n if isinstance(response, str) else list(response)
    answers = [answer] * n if isinstance(answer, str) else list(answer)
    tok = patient.tokenizer
    seqs: list[list[int]] = []
    spans: list[tuple[int, int]] = []  # (prompt index, context length) per sequence
    for j, (p, r, a) in enumerate(zip(prompts, responses, answers, strict=True)):
        r_ids = tok(r, add_special_tokens=False)["input_ids"]
        k = _answer_end(tok, r_ids, a) if a.strip() else None
        if k is None:
            continue
        ctx = chat_token_ids(tok, [{"role": "user", "content": p}])
        seqs.append(ctx + r_ids[:k])
        spans.append((j, len(ctx)))
    out = [False] * n
    if not seqs:
        return out
    ids, mask = right_padded(seqs, tok.pad_token_id if tok.pad_token_id is not None else 0)
    model = patient.model
    device = next(model.parameters()).device
    # The body only, then the LM head at the answer positions alone (the head is a fifth of the model).
    hidden = model.base_model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)[0]
    head = model.get_output_embeddings()
    for i, (j, start) in enumerate(spans):
        target = seqs[i][start:]
        out[j] = head(hidden[i, start - 1 : start - 1 + len(target)]).argmax(-1).tolist() == target
    return out


@torch.no_grad()
def next_token_logprobs(patient, samples: list[tuple[str, str]]) -> torch.Tensor:
    """Log-probabilities of the next token at every position of each chat-templated (prompt, response)
    sample after the template's shared prefix, stacked (rows, vocab)."""
    tok = patient.tokenizer
    enc = [encode(tok, p, r) for p, r in samples]
    ids, mask = right_padded([e.ids for e in enc], tok.pad_token_id if tok.pad_token_id is not None else 0)
    device = next(patient.model.parameters()).device
    logits = patient.model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).logits
    rows = [logits[i, e.user_start : len(e.ids)] for i, e in enumerate(enc)]
    return torch.log_softmax(torch.cat(rows).float(), dim=-1).cpu()


def collateral(base: torch.Tensor, edited: torch.Tensor) -> float:
    """Mean KL(base || edited) of next-token distributions: how much an edit moves text it was not
    meant to touch."""
    return float((base.exp() * (base - edited)).sum(-1).mean())
