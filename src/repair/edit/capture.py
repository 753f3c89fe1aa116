"""Chat-templated samples -> activation rows per (layer, map), with no gradients."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from tqdm.auto import tqdm
from transformers import DynamicCache, PreTrainedTokenizerBase

from repair.edit.settings import Positions
from repair.edit.trace import StopForward, TraceDict
from repair.models.arch import ArchMap
from repair.models.chat import chat_token_ids
from repair.models.decoding import cache_kw

Selector = Callable[["Encoded"], list[int]]  # custom positions per sample
Sample = tuple[str, str]  # (prompt, response); response may be "" for prompt-only samples


@dataclass
class Encoded:
    ids: list[int]
    user_start: int  # first token after the shared chat-template prefix (system prompt etc.)
    prompt_end: int  # first response token (== len of the templated prompt with generation header)
    content_end: int = -1  # end of the user's own text (before the template's closing tokens)

    def positions(self, which: Positions) -> list[int]:
        n = len(self.ids)
        if which == "all":
            return list(range(self.user_start, n))
        if which == "prompt":
            return list(range(self.user_start, self.prompt_end))
        if which == "content":
            return list(range(self.user_start, self.content_end))
        if which == "response":
            return list(range(self.prompt_end, n))
        if which == "last":
            return [self.prompt_end - 1]
        if which == "last+response":
            return list(range(self.prompt_end - 1, n))
        raise ValueError(f"unknown positions '{which}'")


def _template(tok: PreTrainedTokenizerBase, prompt: str, system: str | None) -> list[int]:
    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    return chat_token_ids(tok, msgs)


@lru_cache(maxsize=64)
def _template_bounds(tok: PreTrainedTokenizerBase, system: str | None) -> tuple[int, int]:
    """Lengths of the template's shared prefix (system prompt etc.) and closing tokens.

    The prefix is identical for every sample; it carries no information about the sample and would
    give contradictory targets for identical inputs, so rows never come from it.
    """
    a, b = _template(tok, "alpha", system), _template(tok, "zulu", system)
    pre = 0
    while pre < min(len(a), len(b)) and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < min(len(a), len(b)) - 1 and a[-1 - suf] == b[-1 - suf]:
        suf += 1
    return pre, suf


def template_prefix(tok: PreTrainedTokenizerBase, system: str | None = None) -> list[int]:
    """The token ids every templated conversation starts with (the system prompt, for chat models)."""
    return _template(tok, "alpha", system)[: _template_bounds(tok, system)[0]]


def encode(
    tok: PreTrainedTokenizerBase, prompt: str, response: str = "", system: str | None = None
) -> Encoded:
    p = _template(tok, prompt, system)
    r = tok(response, add_special_tokens=False)["input_ids"] if response else []
    start, suffix = _template_bounds(tok, system)
    return Encoded(
        ids=p + r, user_start=start, prompt_end=len(p), content_end=max(len(p) - suffix, start + 1)
    )


def right_padded(seqs: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists as one right-padded batch and its attention mask (positions stay aligned with the
    lists' own indices)."""
    ids = torch.full((len(seqs), max(len(s) for s in seqs)), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask


def _batches(items: Sequence, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


@torch.no_grad()
def capture(
    model: torch.nn.Module,
    arch: ArchMap,
    tok: PreTrainedTokenizerBase,
    samples: Sequence[Sample],
    layers: Sequence[int],
    maps: Sequence[str],
    positions: Positions | Selector = "all",
    *,
    batch_size: int = 8,
    system: str | None = None,
    progress: bool | None = None,
    residual: bool = False,
    reuse_prefix: bool = True,
    state: Hashable | None = None,
) -> dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]]:
    """Input and output rows of each linear map at the selected token positions.

    Returns ``{(layer, map): (X, Y)}`` with X (rows, in) and Y (rows, out), float32 on CPU. With
    ``residual=True`` also ``(layer, "resid")``: the block's output (residual stream) at those rows.
    ``reuse_prefix``: run the chat template's shared prefix (system prompt etc., which no row comes
    from) once and give every sample its keys and values, instead of once per sample; the rows are the
    same up to float rounding. It is kept for the next call with the same weights: ``state`` names
    them (``Ledger.state``); without it, the parameters' version counters do (any in-place write,
    including an undo, makes a new entry).
    """
    if not layers or not samples:
        return {(layer, m): (torch.empty(0), torch.empty(0)) for layer in layers for m in maps}
    enc = [encode(tok, p, r, system) for p, r in samples]
    names = {(layer, m): arch.module_name(layer, m) for layer in layers for m in maps}
    if residual:
        for layer in layers:
            names[(layer, "resid")] = f"{arch.layers}.{layer}"
    xs: dict[tuple[int, str], list[torch.Tensor]] = {k: [] for k in names}
    ys: dict[tuple[int, str], list[torch.Tensor]] = {k: [] for k in names}
    device = next(model.parameters()).device
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    show = progress if progress is not None else len(enc) > 4 * batch_size
    # The forward stops after the deepest traced block (no later layers, no LM head), and each sample is
    # cut after its last selected position: a causal model's earlier activations do not depend on it.
    last = f"{arch.layers}.{max(layers)}"
    hooked = [n for n in names.values() if n != last] + [last]
    kv, skip = _shared_prefix(model, last, enc, device, state) if reuse_prefix else (None, 0)
    for batch in tqdm(list(_batches(enc, batch_size)), desc="capture", disable=not show, leave=False):
        pos = [positions(e) if callable(positions) else e.positions(positions) for e in batch]
        ids, mask = right_padded(
            [e.ids[skip : max(p) + 1 if p else skip + 1] for e, p in zip(batch, pos, strict=True)], pad
        )
        td = _traced_forward(model, hooked, ids.to(device), mask, kv, skip)
        for key, name in names.items():
            t = td[name]
            out = t.output[0] if isinstance(t.output, tuple) else t.output
            for i, p in enumerate(pos):
                q = [j - skip for j in p]
                if key[1] != "resid":
                    xs[key].append(t.input[i, q].float().cpu())
                ys[key].append(out[i, q].float().cpu())
    return {key: (_cat(xs[key]), _cat(ys[key])) for key in names}


def template_prefix_keys(
    model: torch.nn.Module,
    arch: ArchMap,
    tok: PreTrainedTokenizerBase,
    layers: Sequence[int],
    maps: Sequence[str] = ("down",),
) -> dict[tuple[int, str], torch.Tensor] | None:
    """Inputs of the maps at every position of the chat template's shared prefix (the system prompt every
    conversation reads first), from the model as it is now; None for a template without one."""
    if not template_prefix(tok):
        return None
    caps = capture(
        model, arch, tok, [("x", "")], layers, maps, lambda e: list(range(e.user_start)), reuse_prefix=False
    )
    return {key: x.double() for key, (x, _) in caps.items()}


def _cat(rows: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(rows) if rows else torch.empty(0)


def _shared_prefix(model, last: str, enc: list[Encoded], device, state: Hashable | None):
    """The template prefix every sample shares (no row comes from it), run once: its keys and values
    and its length; (None, 0) when the samples do not share one."""
    start = min(e.user_start for e in enc)
    prefix = enc[0].ids[:start]
    if start > 0 and all(e.ids[:start] == prefix for e in enc):
        return _prefix_kv(model, last, prefix, device, state), start
    return None, 0


def _traced_forward(
    model, hooked: list[str], ids: torch.Tensor, mask: torch.Tensor, kv, skip: int
) -> TraceDict:
    """One batch's forward, stopped after the last hooked module, after the shared prefix ``kv``
    (``skip`` tokens) when there is one."""
    extra: dict = {"use_cache": False}
    if kv is not None:
        extra = {**cache_kw(model, _expand(kv, len(ids), model.config)), "use_cache": True}
        mask = torch.cat([torch.ones(len(ids), skip, dtype=mask.dtype), mask], dim=1)
    with TraceDict(model, hooked, stop=True) as td:
        try:
            model(input_ids=ids, attention_mask=mask.to(ids.device), **extra)
        except StopForward:
            pass
    return td


# prefixes computed per model, keyed by the weights they were computed with (see capture's ``state``)
_PREFIX_KV: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PREFIX_KEEP = 4  # entries per model: a base state and a few edited ones


def _prefix_kv(
    model: torch.nn.Module, last: str, prefix: list[int], device: torch.device, state: Hashable | None = None
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Keys and values of the shared prefix in every layer up to ``last`` (a batch of one)."""
    weights = (
        ("state", state) if state is not None else tuple((id(w), w._version) for w in model.parameters())
    )
    key = (tuple(prefix), last, str(device), str(next(model.parameters()).dtype), weights)
    entries = _PREFIX_KV.setdefault(model, OrderedDict())
    if key in entries:
        entries.move_to_end(key)
        return entries[key]
    cache = DynamicCache(config=model.config)
    with TraceDict(model, [last], stop=True, retain_input=False, retain_output=False):
        try:
            model(input_ids=torch.tensor([prefix], device=device), use_cache=True, **cache_kw(model, cache))
        except StopForward:
            pass
    entries[key] = [(layer.keys, layer.values) for layer in cache.layers if layer.is_initialized]
    while len(entries) > _PREFIX_KEEP:
        entries.popitem(last=False)
    return entries[key]


def _expand(kv: list[tuple[torch.Tensor, torch.Tensor]], batch: int, config) -> DynamicCache:
    """A fresh cache holding the prefix for ``batch`` rows (expanded views: the forward appends to
    copies, so the prefix itself is never written)."""
    cache = DynamicCache(config=config)
    for i, (k, v) in enumerate(kv):
        cache.update(k.expand(batch, *k.shape[1:]), v.expand(batch, *v.shape[1:]), i)
    return cache
