"""An ``Edit``: weight deltas per (layer, map), kept as LoRA factors when low rank, plus its record
(``EditMeta``: the request, the settings and the verdict)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace

import torch

from repair.edit.record import EditMeta
from repair.models.arch import ArchMap


@dataclass
class MapDelta:
    """Delta for one linear map, as (out, in). Either factors ``b @ a`` or a dense ``delta``."""

    layer: int
    map: str
    b: torch.Tensor | None = None  # (out, r)
    a: torch.Tensor | None = None  # (r, in)
    dense: torch.Tensor | None = None  # (out, in), for full-rank solvers (paper form)
    keys: torch.Tensor | None = None  # (f, in) forget keys, kept fixed by later edits
    # (in,): a gated delta acts only on inputs x with x·gate >= 1 (those like its keys) and is zero elsewhere,
    # so edits far apart never add up; it lives in a hook, not in the weights (see ``attach_gated``)
    gate: torch.Tensor | None = None

    def matrix(self) -> torch.Tensor:
        self._refuse_gated()
        if self.dense is not None:
            return self.dense
        assert self.b is not None and self.a is not None
        return self.b @ self.a

    def _refuse_gated(self) -> None:
        if self.gate is not None:
            raise GatedDeltaError(
                f"the delta of layer {self.layer} {self.map} is gated (it acts only where its subject is named): "
                "no weight matrix or LoRA pair expresses it; serve it with repair, or export it --ungated "
                "(its update then acts on every input, and edits add up)"
            )

    def ungated(self) -> MapDelta:
        """The same update without its gate: what a weight matrix or a LoRA pair can hold."""
        return replace(self, gate=None)

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, A) with B @ A == delta; dense deltas are factored by SVD (exact at full rank)."""
        self._refuse_gated()
        if self.dense is None:
            assert self.b is not None and self.a is not None
            return self.b, self.a
        u, s, vh = torch.linalg.svd(self.dense.double(), full_matrices=False)
        keep = s > s.max() * 1e-12 if s.numel() else s.bool()
        return (u[:, keep] * s[keep]).to(self.dense.dtype), vh[keep].to(self.dense.dtype)

    @property
    def key(self) -> str:
        return f"layers.{self.layer}.{self.map}"


class GatedDeltaError(ValueError):
    """A gated delta was asked for as a weight matrix (merge, LoRA export)."""


def new_edit_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def hook_chain(d: MapDelta, device: torch.device | str | None = None) -> tuple[torch.Tensor, ...]:
    """The matrices ``output_hook`` multiplies for ``d``: ``(Aᵀ, Bᵀ)``, ``(Dᵀ,)``, or for a gated delta
    ``(Aᵀ, Bᵀ, gate)``."""
    parts = (d.dense,) if d.dense is not None else (d.a, d.b)
    mats = tuple(t.T.contiguous().to(device) for t in parts if t is not None)
    return mats if d.gate is None else (*mats, d.gate.contiguous().to(device))


def _added(x: torch.Tensor, chains: list[tuple[torch.Tensor, ...]], dtype: torch.dtype):
    add = 0
    for chain in chains:
        gate = chain[2] if len(chain) == 3 else None
        y = x
        for m in chain[:2]:
            y = y @ m.to(dtype)
        if gate is not None:  # zero wherever the input is unlike the edit's keys
            y = y * (x @ gate.to(dtype) >= 1).unsqueeze(-1).to(dtype)
        add = add + y
    return add


def output_hook(chains: list[tuple[torch.Tensor, ...]]):
    """A forward hook that adds each chain's term (``hook_chain``) to a linear map's output: ``x Aᵀ Bᵀ`` for
    factors, ``x Dᵀ`` for a dense delta, ``x Aᵀ Bᵀ`` where ``x·gate >= 1`` for a gated one. The map computes
    as if the (ungated) deltas were written into its weight, which stays untouched. The sum is taken in
    float32 at least (bfloat16 outputs)."""

    def hook(_mod: torch.nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(out.dtype, torch.float32)
        return (out.to(dtype) + _added(args[0].to(dtype), chains, dtype)).to(out.dtype)

    return hook


class GatedSet:
    """The gated deltas of one map, as its forward hook. All gates are scored in one product (E gates x in);
    only the edits that fire somewhere in the batch compute their update, so a thousand edits cost about
    one extra row per edit, and a token no gate fires on keeps the map's output bit for bit."""

    def __init__(self) -> None:
        self.chains: dict[str, tuple[torch.Tensor, ...]] = {}
        self._gates: torch.Tensor | None = None

    def set(self, name: str, chain: tuple[torch.Tensor, ...] | None) -> None:
        if chain is None:
            self.chains.pop(name, None)
        else:
            self.chains[name] = chain
        self._gates = None

    def __call__(self, _mod: torch.nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        chains = list(self.chains.values())
        if self._gates is None:
            self._gates = torch.stack([c[2] for c in chains]).T.contiguous()
        dtype = torch.promote_types(out.dtype, torch.float32)
        x = args[0].to(dtype)
        fire = x @ self._gates.to(dtype) >= 1  # (..., E)
        hit = fire.reshape(-1, fire.shape[-1]).any(0).nonzero().flatten().tolist()
        if not hit:
            return out
        return (out.to(dtype) + _added(x, [chains[j] for j in hit], dtype)).to(out.dtype)


def attach_gated(module: torch.nn.Module, name: str, d: MapDelta | None) -> None:
    """Add (``d``) or remove (None) the gated delta ``name`` on ``module``: the module's gated deltas share
    one forward hook (``GatedSet``), installed with the first and removed with the last."""
    gated: GatedSet = module.__dict__.setdefault("_repair_gated", GatedSet())
    gated.set(name, None if d is None else hook_chain(d, module.weight.device))
    handle = module.__dict__.get("_repair_gated_hook")
    if gated.chains and handle is None:
        module.__dict__["_repair_gated_hook"] = module.register_forward_hook(gated)
    elif not gated.chains and handle is not None:
        handle.remove()
        del module.__dict__["_repair_gated_hook"]


def carries_gated(module: torch.nn.Module) -> bool:
    """Whether ``module`` has gated deltas attached (``attach_gated``)."""
    gated = module.__dict__.get("_repair_gated")
    return bool(gated and gated.chains)


def clear_gated(module: torch.nn.Module) -> None:
    """Remove every gated delta from ``module`` (the ledger's reset to the base model)."""
    gated = module.__dict__.get("_repair_gated")
    for name in list(gated.chains if gated else ()):
        attach_gated(module, name, None)


@dataclass
class Edit:
    id: str
    deltas: list[MapDelta]
    meta: EditMeta = field(default_factory=EditMeta)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.meta, EditMeta):  # a dict is checked against the typed record
            self.meta = EditMeta.model_validate(self.meta)

    @property
    def layers(self) -> list[int]:
        return sorted({d.layer for d in self.deltas})

    @property
    def maps(self) -> list[str]:
        return sorted({d.map for d in self.deltas})

    def apply(self, model: torch.nn.Module, arch: ArchMap, sign: float = 1.0) -> None:
        """Add (or with sign=-1 subtract) the deltas in place. Exact undo lives in the ledger.

        Low-precision weights (bfloat16, float16) take the sum computed in float32 and rounded once:
        rounding the delta first would lose the parts of it below the weights' resolution twice."""
        with torch.no_grad():
            for d in self.deltas:
                if d.gate is not None:  # a hook, not a weight change: undo removes it exactly
                    module = arch.linear(model, d.layer, d.map)
                    attach_gated(module, f"{self.id}:{d.key}", d if sign > 0 else None)
                    continue
                w = arch.linear(model, d.layer, d.map).weight
                delta = d.matrix()
                delta = delta.T if arch.transposed else delta
                if w.dtype in (torch.float32, torch.float64):
                    w.add_(delta.to(device=w.device, dtype=w.dtype), alpha=sign)
                else:
                    w.copy_(w.float().add_(delta.to(device=w.device, dtype=torch.float32), alpha=sign))
