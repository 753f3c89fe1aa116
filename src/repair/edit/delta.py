"""An ``Edit``: weight deltas per (layer, map), kept as LoRA factors when low rank, plus its record
(``EditMeta``: the request, the settings and the verdict)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

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

    def matrix(self) -> torch.Tensor:
        if self.dense is not None:
            return self.dense
        assert self.b is not None and self.a is not None
        return self.b @ self.a

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, A) with B @ A == delta; dense deltas are factored by SVD (exact at full rank)."""
        if self.dense is None:
            assert self.b is not None and self.a is not None
            return self.b, self.a
        u, s, vh = torch.linalg.svd(self.dense.double(), full_matrices=False)
        keep = s > s.max() * 1e-12 if s.numel() else s.bool()
        return (u[:, keep] * s[keep]).to(self.dense.dtype), vh[keep].to(self.dense.dtype)

    @property
    def key(self) -> str:
        return f"layers.{self.layer}.{self.map}"


def new_edit_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def output_hook(chains: list[tuple[torch.Tensor, ...]]):
    """A forward hook that adds ``x @ M1 @ M2 ...`` for each chain of matrices to a linear map's output
    (``(Aᵀ, Bᵀ)`` for factors, ``(Dᵀ,)`` for a dense delta): the map computes as if the deltas were written
    into its weight, which stays untouched. The sum is taken in float32 at least (bfloat16 outputs)."""

    def hook(_mod: torch.nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(out.dtype, torch.float32)
        x, add = args[0].to(dtype), 0
        for chain in chains:
            y = x
            for m in chain:
                y = y @ m.to(dtype)
            add = add + y
        return (out.to(dtype) + add).to(out.dtype)

    return hook


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
                w = arch.linear(model, d.layer, d.map).weight
                delta = d.matrix()
                delta = delta.T if arch.transposed else delta
                if w.dtype in (torch.float32, torch.float64):
                    w.add_(delta.to(device=w.device, dtype=w.dtype), alpha=sign)
                else:
                    w.copy_(w.float().add_(delta.to(device=w.device, dtype=torch.float32), alpha=sign))
