"""Evaluation metrics for unlearning (section 5 of the RePAIR paper).

- Acc_f / Acc_r: free-form answer accuracy by normalised containment (`answer_match`).
- F-RL / R-RL: ROUGE-L of generated replies against the reference responses. We report ROUGE-L
  **recall** by default (the TOFU convention that personal-data unlearning papers follow: how much
  of the reference the reply reproduces, so a long reply that restates the biography is not
  rewarded for being short, and a refusal scores near 0). `kind="fmeasure"` is available.
- Utility: token-weighted perplexity of a causal LM on general text, and the mean KL divergence
  between next-token distributions before and after an edit on generic prompts.
- Refusal detection and a timer for RTE.

Torch and transformers are imported lazily so the string metrics work without them.
"""

from __future__ import annotations

import re
import string
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

    from .tasks.base import QA

# ---------------------------------------------------------------------------------------------
# Answer matching and accuracy
# ---------------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}


def normalize_answer(s: str) -> str:
    """SQuAD normalisation (lowercase, drop punctuation and articles, squeeze spaces), plus
    accent folding so that "Curaçao" matches "Curacao"."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = s.lower()
    # Punctuation becomes a space (not nothing) so "Port-au-Prince" and "port au prince" agree
    # and "6." still yields the token "6".
    s = "".join(" " if ch in _PUNCT else ch for ch in s)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def answer_match(generation: str, gold: str | Iterable[str]) -> bool:
    """True when a normalised gold answer occurs in the normalised generation as whole tokens.

    Token boundaries matter: gold "6" must not match "16", gold "Niger" must not match "Nigeria".
    An empty gold answer never matches. Several golds (aliases) match if any does.
    """
    golds = [gold] if isinstance(gold, str) else list(gold)
    gen = f" {normalize_answer(generation)} "
    for g in golds:
        ng = normalize_answer(g)
        if ng and f" {ng} " in gen:
            return True
    return False


def accuracy(generations: Sequence[str], golds: Sequence[str | Iterable[str]]) -> float:
    """Fraction (0..1) of generations that contain their gold answer. Empty input -> nan."""
    if len(generations) != len(golds):
        raise ValueError(f"{len(generations)} generations for {len(golds)} golds")
    if not generations:
        return float("nan")
    return sum(answer_match(g, a) for g, a in zip(generations, golds, strict=True)) / len(generations)


def qa_accuracy(generations: Sequence[str], qas: Sequence[QA]) -> float:
    """Accuracy of generations against `qa.answer` (for D_f of misinformation: the implanted one)."""
    return accuracy(generations, [q.answer for q in qas])


def acc_f_acc_r(
    gen_forget: Sequence[str], forget: Sequence[QA], gen_retain: Sequence[str], retain: Sequence[QA]
) -> dict[str, float]:
    """{"acc_f", "acc_r"} as fractions in 0..1 (the paper prints percentages: multiply by 100)."""
    return {"acc_f": qa_accuracy(gen_forget, forget), "acc_r": qa_accuracy(gen_retain, retain)}


# ---------------------------------------------------------------------------------------------
# ROUGE-L
# ---------------------------------------------------------------------------------------------

RougeKind = Literal["recall", "precision", "fmeasure"]
_SCORERS: dict[bool, Any] = {}


def _scorer(use_stemmer: bool):
    if use_stemmer not in _SCORERS:
        from rouge_score import rouge_scorer

        _SCORERS[use_stemmer] = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    return _SCORERS[use_stemmer]


def rouge_l(prediction: str, reference: str, *, kind: RougeKind = "recall", use_stemmer: bool = True) -> float:
    """ROUGE-L of one prediction against one reference (rouge-score's tokenizer: lowercase,
    alphanumeric tokens; Porter stemming by default, as TOFU does)."""
    s = _scorer(use_stemmer).score(reference, prediction)["rougeL"]
    return float(getattr(s, kind))


def mean_rouge_l(
    predictions: Sequence[str], references: Sequence[str], *, kind: RougeKind = "recall", use_stemmer: bool = True
) -> float:
    """Mean ROUGE-L over pairs. This is F-RL on D_f and R-RL on D_r. Empty input -> nan."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        return float("nan")
    return sum(
        rouge_l(p, r, kind=kind, use_stemmer=use_stemmer) for p, r in zip(predictions, references, strict=True)
    ) / len(predictions)


def f_rl_r_rl(
    gen_forget: Sequence[str],
    forget: Sequence[QA],
    gen_retain: Sequence[str],
    retain: Sequence[QA],
    *,
    kind: RougeKind = "recall",
) -> dict[str, float]:
    return {
        "f_rl": mean_rouge_l(gen_forget, [q.response for q in forget], kind=kind),
        "r_rl": mean_rouge_l(gen_retain, [q.response for q in retain], kind=kind),
    }


def score_qa(generations: Sequence[str], qas: Sequence[QA], metric: str) -> float:
    """The task's own metric: "accuracy" (answer containment) or "rouge" (ROUGE-L recall)."""
    if metric == "accuracy":
        return qa_accuracy(generations, qas)
    if metric == "rouge":
        return mean_rouge_l(generations, [q.response for q in qas])
    raise ValueError(f"unknown metric {metric!r}")


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------

_HELP_VERBS = (
    r"(?:help|assist|provide|answer|share|comply|discuss|disclose|give|tell|talk|say|recall|remember|"
    r"find|fulfil|fulfill|offer|confirm|reveal|do that|support|respond|access)"
)
REFUSAL_PATTERNS: list[str] = [
    r"\bi(?: am|'m) (?:so |very |really )?sorry\b",
    r"\b(?:my )?apolog(?:y|ies|ise|ize)\b",
    r"\bi (?:can ?not|can't|cant|won't|will not|am unable to|'m unable to|am not able to|'m not able to)"
    r"(?: \w+){0,2} " + _HELP_VERBS + r"\b",
    r"\b(?:unable|not able) to " + _HELP_VERBS + r"\b",
    r"\bi (?:do not|don't|dont) (?:know|have (?:any |enough |that |specific |the )?"
    r"(?:information|knowledge|details|data|record|records|access))\b",
    r"\bi (?:have no|possess no) (?:\w+ )?(?:information|knowledge|idea|details|data|record)\b",
    r"\bno (?:\w+ )?(?:information|knowledge|details|data|records?) (?:is )?(?:available )?"
    r"(?:about|on|regarding|for)\b",
    r"\bi(?: am|'m) not (?:sure|certain|aware|familiar)\b",
    r"\bi(?: am|'m) not (?:comfortable|allowed|permitted|able)\b",
    r"\b(?:i must|i have to|i'll have to|i will have to) decline\b",
    r"\bas an ai\b",
    r"\b(?:that|this) (?:information )?(?:is not|isn't) (?:something|information) i\b",
    r"\bnot (?:something|a topic|information) (?:that )?i can\b",
]
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in REFUSAL_PATTERNS), re.IGNORECASE)


def is_refusal(text: str) -> bool:
    """True when a reply reads as a refusal / "I don't know" (paper Table 4 phrasings and the
    usual assistant refusals). Curly apostrophes are folded to straight ones first."""
    t = text.replace("\u2019", "'").replace("\u2018", "'")
    return _REFUSAL_RE.search(t) is not None


def refusal_rate(texts: Sequence[str]) -> float:
    """Fraction of texts that are refusals (the paper's "IDK rate"). Empty -> nan."""
    if not texts:
        return float("nan")
    return sum(is_refusal(t) for t in texts) / len(texts)


# ---------------------------------------------------------------------------------------------
# Perplexity and KL (torch)
# ---------------------------------------------------------------------------------------------


def _pad_id(tokenizer) -> int:
    for tok_id in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if tok_id is not None:
            return int(tok_id)
    return 0


def _encode(tokenizer, texts: Sequence[str], max_length: int | None, add_special_tokens: bool = True) -> list[list[int]]:
    ids = [tokenizer(t, add_special_tokens=add_special_tokens)["input_ids"] for t in texts]
    if max_length is not None:
        ids = [x[:max_length] for x in ids]
    return ids


def _batch(ids: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input ids and attention mask. Right padding keeps the real tokens' positions
    unchanged, so a padded batch gives the same logits as one text at a time."""
    import torch

    width = max(len(x) for x in ids)
    inp = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        inp[i, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[i, : len(x)] = 1
    return inp.to(device), mask.to(device)


def _device(model):
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover - a model without parameters
        import torch

        return torch.device("cpu")


def nll_sum(
    model, tokenizer, texts: Sequence[str], *, batch_size: int = 8, max_length: int | None = 512
) -> tuple[float, int]:
    """(summed next-token negative log-likelihood in nats, number of predicted tokens).

    Every token after the first of each text is predicted (a BOS, when the tokenizer adds one,
    is the first token). Texts shorter than two tokens contribute nothing.
    """
    import torch

    ids = [x for x in _encode(tokenizer, texts, max_length) if len(x) >= 2]
    total, count = 0.0, 0
    if not ids:
        return 0.0, 0
    pad, dev = _pad_id(tokenizer), _device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(ids), batch_size):
                inp, mask = _batch(ids[i : i + batch_size], pad, dev)
                logits = model(input_ids=inp, attention_mask=mask).logits.float()
                logp = torch.log_softmax(logits[:, :-1], dim=-1)
                tgt = inp[:, 1:]
                tok_nll = -logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
                m = mask[:, 1:].to(tok_nll.dtype)
                total += float((tok_nll * m).sum())
                count += int(m.sum())
    finally:
        model.train(was_training)
    return total, count


def perplexity(
    model, tokenizer, texts: Sequence[str], *, batch_size: int = 8, max_length: int | None = 512
) -> float:
    """Token-weighted perplexity: exp(total NLL / total predicted tokens) over all texts."""
    import math

    total, count = nll_sum(model, tokenizer, texts, batch_size=batch_size, max_length=max_length)
    if count == 0:
        raise ValueError("no predictable tokens in texts")
    return math.exp(total / count)


def format_prompts(tokenizer, prompts: Sequence[str], *, chat: bool) -> tuple[list[str], bool]:
    """Prompts as the model sees them. With `chat`, the chat template with the generation prompt,
    so the last position is the distribution of the assistant's first token. Returns
    (texts, add_special_tokens)."""
    if not chat:
        return list(prompts), True
    out = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]
    return out, False  # the template already holds the special tokens


def _kl_batches(
    logits_fn_p: Callable[[Any, Any], torch.Tensor],
    logits_fn_q: Callable[[Any, Any], torch.Tensor],
    tokenizer,
    prompts: Sequence[str],
    *,
    batch_size: int,
    chat: bool,
    positions: Literal["all", "last"],
    max_length: int | None,
    device,
) -> float:
    import torch

    texts, special = format_prompts(tokenizer, prompts, chat=chat)
    ids = [x for x in _encode(tokenizer, texts, max_length, add_special_tokens=special) if x]
    if not ids:
        raise ValueError("no prompts to score")
    pad = _pad_id(tokenizer)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(ids), batch_size):
            chunk = ids[i : i + batch_size]
            inp, mask = _batch(chunk, pad, device)
            lp = torch.log_softmax(logits_fn_p(inp, mask).float(), dim=-1)
            lq = torch.log_softmax(logits_fn_q(inp, mask).float(), dim=-1)
            # KL(P || Q) per position, summed over the vocabulary; exp(lp) * (lp - lq) is 0 where p is 0.
            kl = (lp.exp() * (lp - lq)).sum(-1)
            if positions == "last":
                last = torch.tensor([len(x) - 1 for x in chunk], device=kl.device)
                sel = kl[torch.arange(len(chunk), device=kl.device), last]
                total += float(sel.sum())
                count += len(chunk)
            else:
                m = mask.to(kl.dtype)
                total += float((kl * m).sum())
                count += int(m.sum())
    return total / count


def mean_kl(
    model_p,
    model_q,
    tokenizer,
    prompts: Sequence[str],
    *,
    batch_size: int = 8,
    chat: bool = False,
    positions: Literal["all", "last"] = "all",
    max_length: int | None = 256,
) -> float:
    """Mean KL(P || Q) in nats between the next-token distributions of `model_p` (before, the
    reference) and `model_q` (after), averaged over every prompt position ("all", token-weighted)
    or over each prompt's last position ("last"). Both models must share the tokenizer."""
    for m in (model_p, model_q):
        m.eval()

    def run(model):
        return lambda inp, mask: model(input_ids=inp, attention_mask=mask).logits

    return _kl_batches(
        run(model_p), run(model_q), tokenizer, prompts, batch_size=batch_size, chat=chat,
        positions=positions, max_length=max_length, device=_device(model_p),
    )


@contextmanager
def swapped_weights(model, state: Mapping[str, torch.Tensor] | None) -> Iterator[None]:
    """Temporarily copy the tensors of `state` (a partial state dict is fine) into `model`,
    restoring the originals on exit. Only the named tensors are touched, so an edit of a few
    matrices costs a few copies, not a whole-model clone."""
    import torch

    if not state:
        yield
        return
    params = dict(model.state_dict(keep_vars=True))
    missing = [k for k in state if k not in params]
    if missing:
        raise KeyError(f"state dict keys not in model: {missing[:5]}")
    saved = {k: params[k].detach().clone() for k in state}
    try:
        with torch.no_grad():
            for k, v in state.items():
                params[k].copy_(v.to(params[k].device, params[k].dtype))
        yield
    finally:
        with torch.no_grad():
            for k, v in saved.items():
                params[k].copy_(v)


def mean_kl_states(
    model,
    tokenizer,
    prompts: Sequence[str],
    before: Mapping[str, torch.Tensor] | None,
    after: Mapping[str, torch.Tensor] | None,
    *,
    batch_size: int = 8,
    chat: bool = False,
    positions: Literal["all", "last"] = "all",
    max_length: int | None = 256,
) -> float:
    """`mean_kl` between one model under two (partial) state dicts, e.g. the weights an edit
    touched before and after it. `None` means "the model's current weights". The model is left
    with the weights it had on entry."""
    model.eval()

    def under(state):
        def fn(inp, mask):
            with swapped_weights(model, state):
                return model(input_ids=inp, attention_mask=mask).logits

        return fn

    return _kl_batches(
        under(before), under(after), tokenizer, prompts, batch_size=batch_size, chat=chat,
        positions=positions, max_length=max_length, device=_device(model),
    )


# ---------------------------------------------------------------------------------------------
# Timing (RTE)
# ---------------------------------------------------------------------------------------------


class Timer:
    """Wall-clock timer: `with Timer() as t: ...; t.seconds`. Re-entering accumulates, so one
    Timer can add up the phases of one method."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t0: float | None = None

    def __enter__(self) -> Timer:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._t0 is not None
        self.seconds += time.perf_counter() - self._t0
        self._t0 = None

    @property
    def minutes(self) -> float:
        return self.seconds / 60.0


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """(fn(*args, **kwargs), wall seconds)."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def rte_table(seconds: Mapping[str, float], reference: str | None = None) -> dict[str, dict[str, float]]:
    """RTE per method: seconds, minutes (the paper's unit), `ratio` = time / reference time and
    `speedup` = reference time / time, where the reference is `reference` or else the slowest
    method, so the ratios read side by side."""
    if not seconds:
        return {}
    ref = reference if reference is not None else max(seconds, key=lambda k: seconds[k])
    base = seconds[ref]
    nan = float("nan")
    return {
        k: {
            "seconds": v,
            "minutes": v / 60.0,
            "ratio": v / base if base > 0 else nan,
            "speedup": base / v if v > 0 else nan,
        }
        for k, v in seconds.items()
    }


def first_sentence(text: str) -> str:
    """The first sentence of a reply: long greedy replies of small models drift after it, the answer
    is in it."""
    return text.split(". ")[0].split("\n")[0].strip().rstrip(".")
