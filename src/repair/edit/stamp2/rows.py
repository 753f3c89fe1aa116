"""Module inputs or outputs at chosen token positions, one row per position (the forward stops early)."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from repair.edit.capture import _expand, _prefix_kv, right_padded
from repair.edit.delta import MapDelta, hook_chain, output_hook
from repair.edit.trace import StopForward, TraceDict
from repair.models.decoding import cache_kw

# below this many shared tokens the prefix is fed again with each row: the cache costs more than it saves
MIN_PREFIX = 8
_READERS = itertools.count()  # tells the prefix caches of different readers' added deltas apart


@dataclass
class _Saved:
    start: int  # the block whose input ``out`` is
    out: object  # block start-1's output, as the model passes it on
    versions: tuple  # of blocks below start when it was recorded, and the deltas added below it


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
        part, _ = _read(patient, [seqs[i] for i in g], [poss[i] for i in g], names, len(inputs), skip)
        for n in names:
            for i, t in zip(g, part[n], strict=True):
                rows[n][i] = t
    return {n: torch.cat(rows[n]) for n in names}


def _read(
    patient,
    seqs: list[list[int]],
    poss: list[list[int]],
    names: Sequence[str],
    n_in: int,
    skip: int,
    replay: _Saved | None = None,
    added: Sequence[MapDelta] = (),
    tag: Hashable = None,
) -> tuple[dict[str, list[torch.Tensor]], object]:
    """One batch: the first ``n_in`` names' inputs and the others' outputs, a tensor per sequence, and
    the raw output of the first output name (the residual a later read may start from). The first
    ``skip`` tokens (shared by all) are run once, with the current weights, and their keys and values
    given to every row: the same rows up to float rounding, for a third of the compute on SmolLM2's chat
    template. ``replay``: the blocks below its start are not run; the recorded residual stands in.
    ``added``: deltas added to their maps' outputs (see `added`); ``tag`` names them for the prefix cache."""
    model = patient.model
    device = next(model.parameters()).device
    ids, mask = right_padded([s[skip:] for s in seqs], patient.tokenizer.pad_token_id or 0)
    extra: dict = {"use_cache": False}
    with _added(patient, added):
        if skip:
            # the prefix cache is keyed on the weights' versions, which added deltas leave as they are
            state = (_versions([model]), tag, len(added)) if added else None
            kv = _prefix_kv(model, names[-1], list(seqs[0][:skip]), device, state)
            extra = {**cache_kw(model, _expand(kv, len(seqs), model.config)), "use_cache": True}
            mask = torch.cat([torch.ones(len(seqs), skip, dtype=mask.dtype), mask], dim=1)
        start, out = (replay.start, replay.out) if replay else (0, None)
        # the forward ends after the last traced module (callers list the deepest last): the layers above
        # the band and the LM head are not needed
        with TraceDict(model, names, stop=True) as tr, _replayed(patient.arch.blocks(model), start, out):
            try:
                model(input_ids=ids.to(device), attention_mask=mask.to(device), **extra)
            except StopForward:
                pass
    rows = {}
    for k, n in enumerate(names):
        x = tr[n].input if k < n_in else tr[n].output
        x = x[0] if isinstance(x, tuple) else x
        rows[n] = [x[i, [j - skip for j in pos]].float().cpu() for i, pos in enumerate(poss)]
    raw = tr[names[n_in]].output if n_in < len(names) else None
    return rows, raw


@contextmanager
def _added(patient, deltas: Sequence[MapDelta]) -> Iterator[None]:
    """``deltas`` added to their maps' outputs by forward hooks while the block runs (``x @ Aᵀ @ Bᵀ``, or
    ``x @ Dᵀ`` for a dense one, in float32 at least): the model computes as if they were written into its weights,
    which stay untouched, so the shared model may serve other requests between two reads of an edit."""
    device = next(patient.model.parameters()).device
    handles = []
    try:
        for d in deltas:
            module = patient.arch.linear(patient.model, d.layer, d.map)
            handles.append(module.register_forward_hook(output_hook([hook_chain(d, device)])))
        yield
    finally:
        for h in handles:
            h.remove()


@contextmanager
def _replayed(blocks: Sequence[torch.nn.Module], start: int, out: object) -> Iterator[None]:
    """Blocks below ``start`` return ``out`` (block start-1's recorded output) without computing."""
    for block in blocks[:start]:
        block.forward = lambda *_a, _out=out, **_k: _out
    try:
        yield
    finally:
        for block in blocks[:start]:
            del block.forward  # the class's forward again


def _versions(blocks: Sequence[torch.nn.Module]) -> tuple[int, ...]:
    return tuple(p._version for b in blocks for p in b.parameters())


class BandRows:
    """The same prompts' rows read again and again while the band's down maps are edited bottom-up.

    A read at ``layer`` returns that layer's down-map input rows and the top block's output rows, with the
    updates given to ``add`` so far added to their maps' outputs by hooks (the weights are not written).
    It runs only the blocks from the lowest one whose input is still known: the residual stream entering
    each read layer is kept, and it stays valid while the blocks below it are unchanged (checked by the
    parameters' version counters and the updates added below it; otherwise the forward starts from the
    embeddings). For a band edited bottom-up this is 23 block passes instead of 54 on SmolLM2's band of
    five, with the same rows."""

    def __init__(self, patient, seqs: list[list[int]], poss: list[list[int]], top: int) -> None:
        self.p, self.seqs, self.poss, self.top = patient, seqs, poss, top
        skip = shared_prefix(seqs, poss)
        self.skip = skip if skip >= MIN_PREFIX else 0
        self.groups = _groups([len(s) - self.skip for s in seqs])
        self.saved: dict[int, _Saved] = {}
        self.added: list[MapDelta] = []
        self.tag = next(_READERS)

    def add(self, delta: MapDelta) -> None:
        """Later reads see ``delta`` as if it were written into its map's weights."""
        self.added.append(delta)

    def _state(self, blocks: Sequence[torch.nn.Module], start: int) -> tuple:
        return _versions(blocks[:start]), tuple(id(d) for d in self.added if d.layer < start)

    def read(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        arch = self.p.arch
        down, top = arch.module_name(layer, "down"), f"{arch.layers}.{self.top}"
        xs: list[torch.Tensor | None] = [None] * len(self.seqs)
        ys: list[torch.Tensor | None] = [None] * len(self.seqs)
        for k, g in enumerate(self.groups):
            x, y = self._read_group(k, g, layer, down, top)
            for i, a, b in zip(g, x, y, strict=True):
                xs[i], ys[i] = a, b
        return torch.cat(xs), torch.cat(ys)

    @torch.no_grad()
    def _read_group(self, k: int, g: list[int], layer: int, down: str, top: str):
        blocks = self.p.arch.blocks(self.p.model)
        saved = self.saved.get(k)
        if saved is None or saved.start > layer or saved.versions != self._state(blocks, saved.start):
            saved = _Saved(start=0, out=None, versions=())
        below = f"{self.p.arch.layers}.{layer - 1}"
        names = [down, top] if layer == 0 else [down, below, top]
        seqs, poss = [self.seqs[i] for i in g], [self.poss[i] for i in g]
        replay = saved if saved.start else None
        rows, raw = _read(self.p, seqs, poss, names, 1, self.skip, replay, self.added, self.tag)
        if layer > 0:  # the residual entering this layer, for the next read
            self.saved[k] = _Saved(start=layer, out=raw, versions=self._state(blocks, layer))
        return rows[down], rows[top]
