"""Module inputs or outputs at chosen token positions, one row per position (the forward stops early)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from repair.edit.capture import _expand, _prefix_kv, right_padded
from repair.edit.trace import StopForward, TraceDict
from repair.models.decoding import cache_kw

# below this many shared tokens the prefix is fed again with each row: the cache costs more than it saves
MIN_PREFIX = 8


def shared_prefix(seqs: Sequence[Sequence[int]], poss: Sequence[Sequence[int]]) -> int:
    """Tokens every sequence starts with (the chat template's system turn), up to the first read position."""
    if len(seqs) < 2:
        return 0
    limit = min(min(map(len, seqs)), min(min(p) for p in poss))
    first = seqs[0]
    n = 0
    while n < limit and all(s[n] == first[n] for s in seqs):
        n += 1
    return n


@torch.no_grad()
def read_rows(
    patient,
    seqs: list[list[int]],
    poss: list[list[int]],
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
) -> dict[str, torch.Tensor]:
    """Module inputs (down maps) or outputs (blocks) at the subject positions, one row per mention.

    The prefix all rows share is run once, with the current weights, and its keys and values are given to
    every row (the rows are the same up to float rounding, for a third of the compute on SmolLM2's
    chat template)."""
    model = patient.model
    device = next(model.parameters()).device
    names = [*inputs, *outputs]
    skip = shared_prefix(seqs, poss)
    skip = skip if skip >= MIN_PREFIX else 0
    ids, mask = right_padded([s[skip:] for s in seqs], patient.tokenizer.pad_token_id or 0)
    extra: dict = {"use_cache": False}
    if skip:
        kv = _prefix_kv(model, names[-1], list(seqs[0][:skip]), device)
        extra = {**cache_kw(model, _expand(kv, len(seqs), model.config)), "use_cache": True}
        mask = torch.cat([torch.ones(len(seqs), skip, dtype=mask.dtype), mask], dim=1)
    # the forward ends after the last traced module (callers list the deepest last): the layers above
    # the band and the LM head are not needed
    with TraceDict(model, names, stop=True) as tr:
        try:
            model(input_ids=ids.to(device), attention_mask=mask.to(device), **extra)
        except StopForward:
            pass
    out = {}
    for n in names:
        x = tr[n].input if n in inputs else tr[n].output
        x = x[0] if isinstance(x, tuple) else x
        out[n] = torch.cat([x[i, [j - skip for j in pos]] for i, pos in enumerate(poss)]).float().cpu()
    return out
