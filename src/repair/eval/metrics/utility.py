"""Utility of a causal LM: token-weighted perplexity on general text, and the mean KL divergence
between next-token distributions of two models on generic prompts. Torch is imported lazily so the
string metrics work without it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from repair.models.chat import adds_special_tokens, render_chat

if TYPE_CHECKING:
    import torch


def _pad_id(tokenizer) -> int:
    for tok_id in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if tok_id is not None:
            return int(tok_id)
    return 0


def _encode(
    tokenizer, texts: Sequence[str], max_length: int | None, add_special_tokens: bool = True
) -> list[list[int]]:
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
    out = [render_chat(tokenizer, [{"role": "user", "content": p}]) for p in prompts]
    return out, adds_special_tokens(tokenizer)  # a template already holds the special tokens


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
        run(model_p),
        run(model_q),
        tokenizer,
        prompts,
        batch_size=batch_size,
        chat=chat,
        positions=positions,
        max_length=max_length,
        device=_device(model_p),
    )
