"""Greedy decoding of a batch that drops each row from the batch once it is finished.

`generate` keeps a finished row in the batch (padding it) until every row is done. On a CPU a
decoding step costs about the same per row (SmolLM2 on 2 cores: 35 ms for 2 rows, 84 ms for 5),
so a verification batch whose replies end at different lengths (a one-sentence reply, a check question
that stopped once its answer appeared, a reply cut at the token cap) pays for rows that are done.
Here finished rows leave the batch and the key/value cache; the tokens are those of greedy `generate`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase


def cache_kw(model: torch.nn.Module, cache: object) -> dict[str, object]:
    """The key/value cache as the model's forward names it: ``cache`` in transformers 5.x (where
    ``past_key_values`` is deprecated and warns on every call), ``past_key_values`` before."""
    return {_cache_name(type(model)): cache}


@functools.cache
def _cache_name(cls: type) -> str:  # once per model class: callers pass the cache at every decoding step
    fwd = cls.forward
    while hasattr(fwd, "__wrapped__"):
        fwd = fwd.__wrapped__
    return "cache" if "cache" in fwd.__code__.co_varnames[: fwd.__code__.co_argcount] else "past_key_values"


def eos_ids(model: PreTrainedModel, tok: PreTrainedTokenizerBase) -> set[int]:
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tok.eos_token_id
    return set(eos if isinstance(eos, list) else [eos] if eos is not None else [])


def _prefill(
    model: PreTrainedModel,
    ids: torch.Tensor,
    mask: torch.Tensor,
    pos: torch.Tensor,
    prefix: DynamicCache | None,
) -> tuple[DynamicCache, torch.Tensor]:
    """The prompt's key/value cache and its last position's logits, computing only what ``prefix``
    does not already hold."""
    cache = prefix if prefix is not None else DynamicCache()
    start = cache.get_seq_length()
    logits = model(
        input_ids=ids[:, start:],
        attention_mask=mask,
        position_ids=pos[:, start:],
        use_cache=True,
        **cache_kw(model, cache),
    ).logits[:, -1]
    return cache, logits


@torch.no_grad()
def greedy(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerBase,
    ids: torch.Tensor,
    mask: torch.Tensor,
    *,
    max_new_tokens: int,
    stop_when: Callable[[int, str], bool] | None = None,
    until: Callable[[int, str], bool] | None = None,
    each: Callable[[int], object] | None = None,
    prefix: DynamicCache | None = None,
) -> list[list[int]]:
    """New token ids per row of a left-padded batch. Row i ends at an end-of-sequence token, after
    ``max_new_tokens``, or once ``until(i, reply so far)``; every row ends once ``stop_when(i, reply)``
    holds for one of them. ``each(k)`` runs after the batch's k-th new token, before the next forward
    (the decoding's state is all here: a server may answer other requests then). ``prefix``: a cache
    that already holds the batch's first positions (a shared system prompt's); it is extended in place."""
    n = len(ids)
    eos = eos_ids(model, tok)
    out: list[list[int]] = [[] for _ in range(n)]
    active = list(range(n))  # original row of each batch row
    pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
    cache, logits = _prefill(model, ids, mask, pos, prefix)
    last = pos[:, -1:]
    for k in range(1, max_new_tokens + 1):
        nxt = logits.argmax(-1)
        for b, i in enumerate(active):
            out[i].append(int(nxt[b]))
        keep = []
        for b, i in enumerate(active):
            done = out[i][-1] in eos
            if not done and (until or stop_when):
                reply = tok.decode(out[i], skip_special_tokens=True)
                if stop_when and stop_when(i, reply):
                    return out
                done = bool(until and until(i, reply))
            if not done:
                keep.append(b)
        if not keep:
            break
        if len(keep) < len(active):  # finished rows leave the batch
            sel = torch.tensor(keep, device=ids.device)
            cache.batch_select_indices(sel)
            mask, last, nxt = mask[sel], last[sel], nxt[sel]
            active = [active[b] for b in keep]
        mask = torch.cat([mask, mask.new_ones(len(active), 1)], dim=1)
        last = last + 1
        if each is not None and k < max_new_tokens:
            each(k)
        logits = model(
            input_ids=nxt[:, None],
            attention_mask=mask,
            position_ids=last,
            use_cache=True,
            **cache_kw(model, cache),
        ).logits[:, -1]
    return out
