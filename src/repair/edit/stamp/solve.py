"""The closed-form part of a STAMP edit: capture the forget keys once per band, then solve at any α."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from repair.edit.capture import Encoded, Positions, capture, template_prefix_keys
from repair.edit.delta import Edit, MapDelta, new_edit_id
from repair.edit.record import EditMeta
from repair.edit.solvers import (
    KeepStats,
    check_finite,
    delta_lowrank_solve,
    hold,
    keep_solve,
    lowrank_paper_solve,
    paper_solve,
    span,
)
from repair.edit.stamp.config import StampSpec
from repair.edit.stats import prefixes

KeyRows = dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]]  # (layer, map) -> (inputs, outputs)


def novel_positions(
    stats, removed: Sequence[tuple[str, str]], within: Positions = "prompt"
) -> Callable[[Encoded], list[int]]:
    """Prompt positions whose prefix is not a keep row's; the last prompt token if none is."""
    counts = stats.keep_prefixes()
    own = Counter(x for p, r in removed for x in prefixes(stats.p.tokenizer, p, r))

    def select(e: Encoded) -> list[int]:
        pos = [
            t for t in e.positions(within) if counts[k := tuple(e.ids[e.user_start : t + 1])] - own[k] <= 0
        ]
        return pos or [e.prompt_end - 1]

    return select


@dataclass(frozen=True)
class Captured:
    """What an edit is solved from, on one band: the forget keys per (layer, map), and the keep rows
    that leave C_K for this edit (keep samples that are forget prompts). Neither depends on α."""

    layers: list[int]
    keys: KeyRows
    removed: KeyRows
    seconds: float


def capture_keys(
    patient, forget: Sequence[tuple[str, str]], cfg: StampSpec, layers: list[int], stats
) -> Captured:
    t = time.perf_counter()
    dups = stats.duplicates([p for p, _ in forget])
    if cfg.positions.startswith("novel"):
        within = {"novel": "prompt", "novel-content": "content", "novel-all": "all"}[cfg.positions]
        positions = novel_positions(stats, dups, within)
    else:
        positions = cfg.positions
    state = patient.ledger.state
    state = None if state is None else (id(patient.ledger), state)
    maps = list(cfg.maps)
    keys = capture(
        patient.model, patient.arch, patient.tokenizer, forget, layers, maps, positions, state=state
    )
    if cfg.pool == "mean":
        keys = {k: (x.mean(0, keepdim=True), y.mean(0, keepdim=True)) for k, (x, y) in keys.items()}
    removed = (
        capture(patient.model, patient.arch, patient.tokenizer, dups, layers, maps, "all", state=state)
        if dups
        else {}
    )
    return Captured(layers, keys, removed, time.perf_counter() - t)


@dataclass
class BandSolver:
    """Solves one request's edit on one band at any α. Each map's α-independent factor (A of
    Delta = R^T A) is computed by the first solve and reused, so an α step re-solves in microseconds."""

    patient: object
    cfg: StampSpec
    stats: object
    rows: Captured
    _factors: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    _factor_seconds: float = 0.0  # what the first solve spent on the factors
    _prefix: dict[tuple[int, str], torch.Tensor] | None = None
    _shift: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)

    @property
    def layers(self) -> list[int]:
        return self.rows.layers

    def solve(self, alpha: float) -> Edit:
        t = time.perf_counter()
        first = not self._factors
        deltas = []
        for name in self.cfg.maps:
            targets = self._targets(name, alpha)
            for layer in self.layers:
                deltas.append(self._solve_map(layer, name, targets[layer]))
        dt = time.perf_counter() - t
        if first:
            self._factor_seconds = dt
        # "solve": this edit's whole solution, including the shared factors the first α step computed
        timings = {"capture": self.rows.seconds, "solve": dt if first else self._factor_seconds + dt}
        return Edit(new_edit_id(), deltas, meta=EditMeta(alpha=alpha), timings=timings)

    def _targets(self, name: str, alpha: float) -> dict[int, torch.Tensor]:
        """The wanted shift of each forget row's output: the model's refusal direction spread over the
        band (repair recipe, down map), or the paper's eq. 4 (mean over D_ref minus mean over D_f)."""
        keys, out = self.rows.keys, {}
        if self.cfg.recipe == "repair" and name == "down":
            dirs = self.stats.refusal_dirs()
            for layer in self.layers:
                x_f = keys[(layer, name)][0]
                out[layer] = (alpha / len(self.layers)) * dirs[layer].unsqueeze(0).expand(x_f.shape[0], -1)
                if self.cfg.absolute:
                    out[layer] = _beyond_prior(out[layer], self._prior_shift(layer, name, x_f), dirs[layer])
            return out
        ref = self.stats.refusal_out(self.layers, name)
        for layer in self.layers:
            x_f, y_f = keys[(layer, name)]
            out[layer] = (alpha * (ref[layer] - y_f.mean(0))).unsqueeze(0).expand(x_f.shape[0], -1)
        return out

    def _held(self) -> dict[tuple[int, str], torch.Tensor]:
        """The template prefix's keys of every edited map, read once per request from the model as it is
        (every conversation reads them first: an edit that moves them moves every reply)."""
        if self._prefix is None:
            p = self.patient
            self._prefix = (
                template_prefix_keys(p.model, p.arch, p.tokenizer, self.layers, self.cfg.maps) or {}
            )
        return self._prefix

    def _prior_shift(self, layer: int, name: str, x_f: torch.Tensor) -> torch.Tensor:
        """How far the committed edits already move these rows' outputs (rows, out)."""
        if (layer, name) not in self._shift:
            shift = torch.zeros(
                x_f.shape[0], self.patient.arch.weight(self.patient.model, layer, name).shape[0]
            )
            for e in self.patient.ledger.active:
                for d in e.deltas:
                    if (d.layer, d.map) == (layer, name):
                        shift += x_f.float() @ d.matrix().float().T
            self._shift[(layer, name)] = shift
        return self._shift[(layer, name)]

    def _minus(self, layer: int, name: str) -> torch.Tensor | None:
        return self.rows.removed[(layer, name)][0].double() if self.rows.removed else None

    def _solve_map(self, layer: int, name: str, r: torch.Tensor) -> MapDelta:
        cfg, x_f = self.cfg, self.rows.keys[(layer, name)][0]
        x_f64, r64 = x_f.double(), r.double()
        prior = prior_keys(self.patient, layer, name)
        minus = self._minus(layer, name)
        if cfg.solver == "paper" or (cfg.method == "stamp-lr" and cfg.recipe == "paper"):
            c = self.stats.keep_c([layer], name)[layer]
            if minus is not None:
                c = c - minus.T @ minus
            # The paper stacks explicit keep rows; C_K is their Gram matrix, so use its square root rows.
            evals, evecs = torch.linalg.eigh(c)
            x_keep = (evecs * evals.clamp_min(0).sqrt()).T
            if prior is not None:
                x_keep = torch.cat([x_keep, prior])
            w = self.patient.arch.weight(self.patient.model, layer, name)
            if cfg.method == "stamp-lr":
                delta = lowrank_paper_solve(x_f64, r64, x_keep, w, cfg.rank or 64, lam=cfg.lam, seed=cfg.seed)
            else:
                delta = paper_solve(x_f64, r64, x_keep, w, cfg.lam)
            return MapDelta(layer, name, dense=delta.float(), keys=x_f.float())
        if (layer, name) not in self._factors:
            held = self._held().get((layer, name)) if cfg.keep_prefix else None
            self._factors[(layer, name)] = keep_factor(
                cfg, self.stats, layer, name, x_f64, prior, minus, held
            )
        check_finite(r64)
        a = self._factors[(layer, name)]
        return MapDelta(layer, name, b=r64.T.float(), a=a.float(), keys=x_f.float())


def _beyond_prior(r: torch.Tensor, shift: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """The shift still wanted along the refusal direction ``d`` once the committed edits' ``shift`` of
    the same rows counts: a row an earlier edit already moved part of the way goes the rest of it, not
    the whole way again (never backwards)."""
    unit = d / d.norm()
    done = shift.float() @ unit
    want = r.float() @ unit
    return (want - done).clamp_min(0).unsqueeze(1) * unit


def prior_keys(patient, layer: int, name: str) -> torch.Tensor | None:
    """Forget keys of committed edits: kept fixed so later edits do not undo earlier ones."""
    keys = [
        d.keys
        for e in patient.ledger.active
        for d in e.deltas
        if d.layer == layer and d.map == name and d.keys is not None
    ]
    return torch.cat(keys).double() if keys else None


def keep_factor(
    cfg: StampSpec,
    stats,
    layer: int,
    name: str,
    x_f64: torch.Tensor,
    prior: torch.Tensor | None,
    minus: torch.Tensor | None,
    held: torch.Tensor | None = None,
) -> torch.Tensor:
    """A of Delta = R^T A for the default solvers: it depends on the keys and the keep statistics, not
    on the target shifts. ``held`` (rows): keys whose outputs the edit leaves exactly as they are (the
    chat template's shared prefix; not for STAMP-LR, whose update is low-rank by construction)."""
    if cfg.method == "stamp-lr":
        c = stats.keep_c([layer], name)[layer]
        keep = KeepStats(c - minus.T @ minus if minus is not None else c, 0)
        if prior is not None:
            keep = keep.add_rows(prior)
        eig = stats.eig(layer, name) if prior is None and minus is None else None
        no_target = torch.zeros(x_f64.shape[0], 1, dtype=x_f64.dtype)  # A does not depend on it
        _, a = delta_lowrank_solve(x_f64, no_target, keep, cfg.rank or 64, cfg.lam, eig=eig)
        if cfg.solver == "exact":
            # rescale so forget rows land exactly: A <- (X_F A^T)^-1-corrected on the f x f system
            g = x_f64 @ a.T
            a = torch.linalg.solve(
                g + 1e-6 * torch.trace(g) / g.shape[0] * torch.eye(g.shape[0], dtype=g.dtype), a
            )
        return a
    chol = stats.kfactor32(layer, name, cfg.lam)
    if cfg.solver == "exact":
        # min ||Delta||_M  s.t.  Delta x_f = r_f (and Delta q = 0 for the held keys q)
        #   ->  Delta = [R^T 0] (Z K Z^T)^-1 Z K  with  Z = [X_F; Q]
        # (the held basis scaled like the keys, so that the ridge on g below stays negligible for it)
        z = x_f64 if held is None else torch.cat([x_f64, span(held.T).T * x_f64.norm(dim=1).mean()])
        kz = keep_solve(chol, prior, minus)(z.T)  # (n, f + h) = K Z^T
        g = z @ kz
        g = g + 1e-6 * torch.trace(g) / g.shape[0] * torch.eye(g.shape[0], dtype=g.dtype)
        a = torch.linalg.solve(g, kz.T)[: x_f64.shape[0]]
    else:
        # ridge delta form: Delta = R^T X_F (X_F^T X_F + M)^-1, by Woodbury on the cached K
        kx = keep_solve(chol, prior, minus)(x_f64.T)  # (n, f) = K X_F^T
        g = x_f64 @ kx
        a = kx.T - torch.linalg.solve(torch.eye(g.shape[0], dtype=g.dtype) + g, g) @ kx.T
        if held is not None:
            rows = x_f64 if prior is None else torch.cat([x_f64, prior])
            a = hold(a, keep_solve(chol, rows, minus), held.T)
    check_finite(a)
    return a
