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


def _groups(lengths: Sequence[int]) -> list[list[int]]:
    """Row indices in at most two batches of similar length (one long row would pad all the others)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    best, cut = len(order) * lengths[order[-1]], len(order)
    for k in range(1, len(order)):
        cost = k * lengths[order[k - 1]] + (len(order) - k) * lengths[order[-1]]
        if cost < best:
            best, cut = cost, k
    return [g for g in (order[:cut], order[cut:]) if g]


@torch.no_grad()
def read_rows(
    patient,
    seqs: list[list[int]],
    poss: list[list[int]],
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
) -> dict[str, torch.Tensor]:
    """Module inputs (down maps) or outputs (blocks) at the subject positions, one row per mention, in
    the order of ``seqs`` (read in up to two batches of similar length)."""
    names = [*inputs, *outputs]
    skip = shared_prefix(seqs, poss)
    skip = skip if skip >= MIN_PREFIX else 0
    rows: dict[str, list[torch.Tensor | None]] = {n: [None] * len(seqs) for n in names}
    for g in _groups([len(s) - skip for s in seqs]):
        part = _read(patient, [seqs[i] for i in g], [poss[i] for i in g], names, len(inputs), skip)
        for n in names:
            for i, t in zip(g, part[n], strict=True):
                rows[n][i] = t
    return {n: torch.cat(rows[n]) for n in names}


def _read(
    patient, seqs: list[list[int]], poss: list[list[int]], names: Sequence[str], n_in: int, skip: int
) -> dict[str, list[torch.Tensor]]:
    """One batch: the first ``n_in`` names' inputs and the others' outputs, a tensor per sequence. The
    first ``skip`` tokens (shared by all) are run once, with the current weights, and their keys and
    values given to every row: the same rows up to float rounding, for a third of the compute on
    SmolLM2's chat template."""
    model = patient.model
    device = next(model.parameters()).device
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
    for k, n in enumerate(names):
        x = tr[n].input if k < n_in else tr[n].output
        x = x[0] if isinstance(x, tuple) else x
        out[n] = [x[i, [j - skip for j in pos]].float().cpu() for i, pos in enumerate(poss)]
    return out
