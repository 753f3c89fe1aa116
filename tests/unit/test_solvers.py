"""The maths of the solves STAMP and STAMP-2 use in production (keep_solve, hold, the ridge and paper
forms), on small random problems: no model, a few seconds."""

from __future__ import annotations

import pytest
import torch

from repair.edit.delta import MapDelta
from repair.edit.solvers import (
    KeepStats,
    NonFiniteEditError,
    delta_lowrank_solve,
    delta_solve,
    hold,
    keep_solve,
    paper_solve,
    relative_lambda,
)
from repair.edit.verify import collateral

torch.manual_seed(0)
N_IN, N_OUT = 24, 16


def _problem(f=3, k=200):
    g = torch.Generator().manual_seed(1)
    x_f = torch.randn(f, N_IN, generator=g, dtype=torch.float64)
    x_k = torch.randn(k, N_IN, generator=g, dtype=torch.float64)
    r = torch.randn(f, N_OUT, generator=g, dtype=torch.float64)
    return x_f, x_k, r


def test_delta_equals_explicit_least_squares():
    x_f, x_k, r = _problem()
    lam = 0.5
    b, a = delta_solve(x_f, r, KeepStats.from_rows(x_k), lam, relative=False)
    # Stacked least squares: rows [X_F; X_K; sqrt(lam) I] -> targets [R; 0; 0]
    rows = torch.cat([x_f, x_k, lam**0.5 * torch.eye(N_IN, dtype=x_f.dtype)])
    tgt = torch.cat([r, torch.zeros(x_k.shape[0] + N_IN, N_OUT, dtype=r.dtype)])
    sol = torch.linalg.lstsq(rows, tgt).solution.T
    assert torch.allclose(b @ a, sol, atol=1e-10)


def test_forget_rows_move_by_target_and_keep_rows_stay():
    x_f, x_k, r = _problem(f=2, k=20)
    # keep rows do not span the space, so the forget rows can move without touching them
    b, a = delta_solve(x_f, r, KeepStats.from_rows(x_k), 1e-8, relative=False)
    delta = b @ a
    assert torch.allclose(x_f @ delta.T, r, atol=1e-5)
    assert (x_k @ delta.T).abs().max() < 1e-5


def test_lora_factors_reproduce_delta_exactly():
    x_f, x_k, r = _problem()
    b, a = delta_solve(x_f, r, KeepStats.from_rows(x_k), 0.1)
    d = MapDelta(0, "down", b=b, a=a)
    fb, fa = d.factors()
    assert torch.equal(fb @ fa, d.matrix())
    dense = MapDelta(0, "down", dense=b @ a)
    db, da = dense.factors()
    assert torch.allclose(db @ da, b @ a, atol=1e-12)
    assert db.shape[1] == x_f.shape[0]  # rank(delta) <= |F|


def test_stamp_lr_converges_to_stamp():
    x_f, x_k, r = _problem()
    keep = KeepStats.from_rows(x_k)
    full_b, full_a = delta_solve(x_f, r, keep, 0.1)
    full = full_b @ full_a
    errs = []
    for rank in (2, 8, 16, N_IN):
        b, a = delta_lowrank_solve(x_f, r, keep, rank, 0.1)
        errs.append(float((b @ a - full).norm() / full.norm()))
    assert errs[-1] < 1e-8
    assert errs[0] > errs[-1]
    assert all(e2 <= e1 + 1e-9 for e1, e2 in zip(errs, errs[1:], strict=False))


def test_paper_form_matches_delta_form_with_many_rows():
    x_f, x_k, r = _problem(k=2000)
    w = torch.randn(N_OUT, N_IN, dtype=torch.float64)
    lam = 1e-6
    dp = paper_solve(x_f, r, x_k, w, lam, relative=False)
    b, a = delta_solve(x_f, r, KeepStats.from_rows(x_k), lam, relative=False)
    assert torch.allclose(dp, b @ a, atol=1e-6)


def test_paper_form_erases_weights_outside_the_span():
    # With fewer rows than inputs the paper's form projects W onto the row span: measured, not hidden.
    x_f, x_k, r = _problem(f=1, k=5)
    w = torch.randn(N_OUT, N_IN, dtype=torch.float64)
    dp = paper_solve(x_f, r, x_k, w, 1e-9, relative=False)
    assert (w + dp).norm() < 0.7 * w.norm()


def test_relative_lambda_scales_with_statistics():
    c = torch.eye(4, dtype=torch.float64) * 10
    assert relative_lambda(0.1, c) == 1.0


def test_non_finite_edit_refused():
    x_f, x_k, r = _problem()
    r[0, 0] = float("nan")
    try:
        delta_solve(x_f, r, KeepStats.from_rows(x_k), 0.1)
    except NonFiniteEditError:
        return
    raise AssertionError("a NaN target must be refused")


def test_keep_solve_adds_and_removes_keep_rows():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(200, 12, generator=g, dtype=torch.float64)
    add, rem = torch.randn(3, 12, generator=g, dtype=torch.float64), x[:4]
    m = x.T @ x + 0.5 * torch.eye(12, dtype=torch.float64)
    y = torch.randn(12, 2, generator=g, dtype=torch.float64)
    chol = torch.linalg.cholesky(m)
    want = torch.linalg.solve(m + add.T @ add - rem.T @ rem, y)
    assert torch.allclose(keep_solve(chol, add, rem)(y), want, atol=1e-10)
    assert torch.allclose(keep_solve(chol, None, None)(y), torch.linalg.solve(m, y), atol=1e-10)


def test_collateral_is_mean_kl_of_next_token_distributions():
    base = torch.tensor([[0.5, 0.5], [0.2, 0.8]]).log()
    edited = torch.tensor([[0.9, 0.1], [0.2, 0.8]]).log()
    # KL([.5,.5] || [.9,.1]) = .5 ln(.5/.9) + .5 ln(.5/.1) = 0.5108; the second row did not move
    assert collateral(base, edited) == pytest.approx(0.5108 / 2, abs=1e-4)
    assert collateral(base, base) == 0.0


def test_hold_is_the_ridge_update_constrained_to_leave_the_keys_alone():
    """hold(a, G^-1, q): the update closest to ``a`` in G's norm with ``Delta q = 0``,
    ``a - (a q)(q^T G^-1 q)^-1 (G^-1 q)^T``; collinear keys (a causal prefix's) count once."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(40, 10, generator=g, dtype=torch.float64)
    m = x.T @ x + 0.1 * torch.eye(10, dtype=torch.float64)
    chol = torch.linalg.cholesky(m)
    a = torch.randn(4, 10, generator=g, dtype=torch.float64)
    v, w = (
        torch.randn(10, 1, generator=g, dtype=torch.float64),
        torch.randn(10, 1, generator=g, dtype=torch.float64),
    )
    q = torch.cat([v, 2 * v, w], dim=1)  # rank 2
    held = hold(a, keep_solve(chol, None, None), q)
    assert (held @ q).abs().max() < 1e-10  # the held keys get no output
    q2 = torch.cat([v, w], dim=1)
    gq = torch.linalg.solve(m, q2)
    want = a - (a @ q2) @ torch.linalg.solve(q2.T @ gq, gq.T)
    assert torch.allclose(held, want, atol=1e-9)
    # a key the update already leaves alone changes nothing
    free = torch.linalg.svd(a, full_matrices=True).Vh[-1:].T  # a @ free == 0
    assert torch.allclose(hold(a, keep_solve(chol, None, None), free), a, atol=1e-9)
