"""Closed-form ridge solvers for one linear map ``y = W x`` (W is out x in).

Notation (see DESIGN.md): forget rows X_F (f, n) with wanted output shifts R (f, m); keep rows X_K
(k, n) whose outputs must not move; optional cached second moments C0 = sum x x^T of generic text.

* ``delta``  (default):  Delta = R^T X_F (X_F^T X_F + C_K + lam I)^-1,  C_K = X_K^T X_K (+ C0)
* ``paper``  (RePAIR eq. 8-9): W_new^T = (X^T X + lam I)^-1 X^T O',  O' = X W^T + [R; 0]
* ``lowrank`` STAMP-LR (paper eq. 10-11): X ~ A B (rank r), W_new^T = B^+ A^+ O'
* ``delta_lowrank``: the delta form with the keep statistics truncated to rank r and the forget rows
  kept exact (truncating them throws away exactly the forget-specific directions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


class NonFiniteEditError(FloatingPointError):
    """The solve produced NaN/Inf; the edit is refused and no weight is written."""


def _f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float64)


def relative_lambda(lam: float, c: torch.Tensor) -> float:
    """Scale lam by the mean diagonal of C so one setting works across models and layers."""
    n = c.shape[0]
    scale = float(torch.trace(c)) / n if n else 1.0
    return lam * max(scale, 1e-12)


def ridge_cholesky(c: torch.Tensor, lam_abs: float, error: str) -> torch.Tensor:
    """Cholesky factor of C + lam_abs I; ``error`` when C + lam_abs I is not positive definite."""
    chol, info = torch.linalg.cholesky_ex(c + lam_abs * torch.eye(c.shape[0], dtype=c.dtype))
    if int(info) != 0:
        raise NonFiniteEditError(error)
    return chol


@dataclass
class KeepStats:
    """Second moments of the keep rows for one map: C_K = X_K^T X_K (+ C0), cached per layer."""

    c: torch.Tensor  # (n, n) float64
    count: int

    @classmethod
    def from_rows(cls, x_keep: torch.Tensor, c0: torch.Tensor | None = None) -> KeepStats:
        x = _f64(x_keep)
        c = x.T @ x
        if c0 is not None:
            c = c + _f64(c0)
        return cls(c=c, count=x.shape[0])

    def add_rows(self, x: torch.Tensor) -> KeepStats:
        x = _f64(x)
        return KeepStats(c=self.c + x.T @ x, count=self.count + x.shape[0])


def check_finite(*ts: torch.Tensor, what: str = "edit") -> None:
    for t in ts:
        if not torch.isfinite(t).all():
            raise NonFiniteEditError(f"{what} is not finite (NaN/Inf); refusing to write it")


def delta_solve(
    x_f: torch.Tensor, r: torch.Tensor, keep: KeepStats, lam: float, *, relative: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Delta form. Returns the LoRA factors (B, A) with Delta = B @ A, B = R^T (m, f), A (f, n)."""
    xf, rr = _f64(x_f), _f64(r)
    c = keep.c + xf.T @ xf
    lam_abs = relative_lambda(lam, c) if relative else lam
    chol = ridge_cholesky(c, lam_abs, "keep statistics are not positive definite; increase lam")
    a = torch.cholesky_solve(xf.T, chol).T  # (f, n) = X_F (C + lam I)^-1
    b = rr.T
    check_finite(a, b)
    return b, a


def paper_solve(
    x_f: torch.Tensor,
    r: torch.Tensor,
    x_keep: torch.Tensor,
    w: torch.Tensor,
    lam: float,
    *,
    relative: bool = True,
) -> torch.Tensor:
    """Paper-literal ridge on stacked rows; returns Delta = W_new - W (m, n)."""
    x = torch.cat([_f64(x_f), _f64(x_keep)])
    w64 = _f64(w)
    o_new = x @ w64.T
    o_new[: x_f.shape[0]] += _f64(r)
    g = x.T @ x
    lam_abs = relative_lambda(lam, g) if relative else lam
    w_new_t = torch.linalg.solve(g + lam_abs * torch.eye(g.shape[0], dtype=g.dtype), x.T @ o_new)
    delta = w_new_t.T - w64
    check_finite(delta)
    return delta


def randomized_factor(x: torch.Tensor, rank: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """X ~ A B with A (rows, r), B (r, n) from a seeded randomized SVD."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        u, s, v = torch.svd_lowrank(x, q=min(rank, min(x.shape)), niter=4)
    finally:
        torch.random.set_rng_state(gen_state)
    return u * s, v.T


def lowrank_paper_solve(
    x_f: torch.Tensor,
    r: torch.Tensor,
    x_keep: torch.Tensor,
    w: torch.Tensor,
    rank: int,
    lam: float = 0.0,
    seed: int = 0,
) -> torch.Tensor:
    """STAMP-LR as in the paper: W_new^T = B^+ A^+ O' with X ~ A B (rank r). Returns Delta."""
    x = torch.cat([_f64(x_f), _f64(x_keep)])
    w64 = _f64(w)
    o_new = x @ w64.T
    o_new[: x_f.shape[0]] += _f64(r)
    a, b = randomized_factor(x, rank, seed)
    eye = torch.eye(a.shape[1], dtype=a.dtype)
    ata = a.T @ a
    a_pinv = torch.linalg.solve(ata + lam * float(torch.trace(ata)) / a.shape[1] * eye, a.T)  # (r, rows)
    b_pinv = b.T @ torch.linalg.inv(b @ b.T)  # (n, r)
    delta = (b_pinv @ (a_pinv @ o_new)).T - w64
    check_finite(delta)
    return delta


def delta_lowrank_solve(
    x_f: torch.Tensor,
    r: torch.Tensor,
    keep: KeepStats,
    rank: int,
    lam: float,
    *,
    relative: bool = True,
    eig: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Delta form with C_K ~ U S U^T (top-r eigenpairs); forget rows exact via Woodbury.

    Cost per request is O(r n f + f^3) after the eigenpairs are cached: no n^3 work.
    """
    xf, rr = _f64(x_f), _f64(r)
    n = keep.c.shape[0]
    lam_abs = relative_lambda(lam, keep.c + xf.T @ xf) if relative else lam
    evals, evecs = eig if eig is not None else torch.linalg.eigh(keep.c)  # eig: cached eigh(keep.c)
    k = min(rank, n)
    u, s = evecs[:, -k:], evals[-k:].clamp_min(0)

    def kinv(y: torch.Tensor) -> torch.Tensor:  # (U S U^T + lam I)^-1 y
        return (y - u @ ((s / (s + lam_abs)).unsqueeze(1) * (u.T @ y))) / lam_abs

    kx = kinv(xf.T)  # (n, f)
    inner = torch.eye(xf.shape[0], dtype=xf.dtype) + xf @ kx
    a = (kx - kx @ torch.linalg.solve(inner, xf @ kx)).T  # Woodbury for + X_F^T X_F
    check_finite(a, rr)
    return rr.T, a


def keep_solve(
    chol: torch.Tensor, add: torch.Tensor | None, remove: torch.Tensor | None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """y -> (M + A^T A - R^T R)^-1 y from the Cholesky factor of M (Woodbury): a few columns per
    request, never an n x n inverse. ``chol`` may be a float32 copy: the two triangular solves read
    n^2 numbers (memory-bound), and at the conditioning relative_lambda gives (~1e3) they agree with
    float64 to ~1e-6; everything around them stays float64."""

    def base(y: torch.Tensor) -> torch.Tensor:
        return torch.cholesky_solve(y.to(chol.dtype), chol).double()

    rows = [x for x in (add, remove) if x is not None and len(x)]
    if not rows:
        return base
    p = torch.cat(rows)
    sign = torch.cat(
        [
            torch.full((len(x),), s, dtype=p.dtype)
            for x, s in ((add, 1.0), (remove, -1.0))
            if x is not None and len(x)
        ]
    )
    kp = base(p.T)  # (n, m)
    inner = torch.diag(sign) + p @ kp

    def apply(y: torch.Tensor) -> torch.Tensor:
        return base(y) - kp @ torch.linalg.solve(inner, kp.T @ y)

    return apply


def span(q: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis (columns) of span(q)'s columns, dropping directions below 1e-6 of the largest."""
    u, s, _ = torch.linalg.svd(q.double(), full_matrices=False)
    return u[:, s > s[0] * 1e-6]


def hold(a: torch.Tensor, solve: Callable[[torch.Tensor], torch.Tensor], q: torch.Tensor) -> torch.Tensor:
    """The ridge update ``Delta = b a`` (``a = X^T G^-1``, rows per key) made to leave the keys ``q``
    (columns) exactly where they are: the minimiser of the same objective subject to ``Delta q = 0``,
    ``a - (a q)(q^T G^-1 q)^-1 (G^-1 q)^T``. Only span(q) matters, so q is orthonormalised first (keys
    of a causal prefix are close to collinear)."""
    u = span(q)
    gu = solve(u)
    return a - (a @ u) @ torch.linalg.solve(u.T @ gu, gu.T)
