"""The α search of a STAMP edit on one layer band: the smallest strength on the schedule whose edit
(times the margin) the check accepts."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from repair.edit.delta import Edit
from repair.edit.record import Verification
from repair.edit.stamp.config import SearchPolicy, StampConfig
from repair.edit.stamp.guard import Checker, guard_broken
from repair.edit.stamp.solve import BandSolver, capture_keys
from repair.edit.verify import still_answers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One forget request as the search sees it: the rows to edit, what must be gone, how to check."""

    patient: object
    stats: object
    forget: list[tuple[str, str]]
    samples: list[tuple[str, str]]  # the forget pairs and their paraphrases: the edit's key rows
    answer: str
    verify: bool
    checker: Checker

    @property
    def probes(self) -> list[str]:
        return [p for p, _ in self.samples]


@dataclass(frozen=True)
class Checked:
    """A candidate edit and the check's verdict on it."""

    edit: Edit
    verification: Verification


@dataclass(frozen=True)
class SearchResult:
    """The edit a band's search ends with, the verdict on it (None: not checked), how many α steps the
    teacher-forced screen rejected, the band and the configuration (its λ may be ``costly_lam``)."""

    edit: Edit
    verification: Verification | None
    screened: int
    layers: list[int]
    config: StampConfig

    @property
    def alpha(self) -> float:
        return _alpha(self.edit)


def alpha_schedule(cfg: SearchPolicy, start: float) -> list[float]:
    """``start``, then times ``alpha_growth`` while at most ``alpha_max``."""
    out, a = [], start
    while a <= cfg.alpha_max:
        out.append(a)
        a *= cfg.alpha_growth
    return out


def search(req: Request, cfg: StampConfig, layers: list[int], alpha_start: float) -> SearchResult:
    """Capture the band's keys once, then solve and check α = ``alpha_start``, × growth, ... until an
    edit forgets or the check says that a stronger one cannot help; a fixed α is solved once."""
    if cfg.recipe == "repair":
        req.stats.keep_c(layers, "down")
    alphas = [cfg.alpha] if cfg.alpha != "auto" else alpha_schedule(cfg.policy, alpha_start)
    if not alphas:
        raise ValueError(f"no α to search: the start {alpha_start:g} is above alpha_max {cfg.alpha_max:g}")
    spec = cfg.spec  # what the solve needs; the policy drives the loop
    solver = BandSolver(
        req.patient, spec, req.stats, capture_keys(req.patient, req.samples, spec, layers, req.stats)
    )
    edit, result, screened = None, None, 0
    for alpha in alphas:
        edit = solver.solve(alpha)
        if not (req.verify and cfg.alpha == "auto"):
            break
        last = alpha == alphas[-1]
        if not last and _leaks(req, edit):
            screened += 1
            log.debug("layers %s-%s α %.4g: still answers (screen)", layers[0], layers[-1], alpha)
            continue
        step = _check_step(req, solver, cfg.alpha_margin, edit, last)
        edit, result = step.edit, step.verification
        if result.forgotten or result.final:  # done, or a stronger edit cannot help
            break
    assert edit is not None
    return SearchResult(edit, result, screened, layers, cfg)


def _leaks(req: Request, edit: Edit) -> bool:
    """A teacher-forced forward (milliseconds) proves "still answers" while greedy decoding would still
    reproduce the response up to the answer; only α that pass it are generated. The prompt alone: a
    leak on a rewording is caught as fast by the generation's early exit."""
    with req.patient.ledger.trial(edit):
        return still_answers(req.patient, req.probes[:1], req.forget[0][1], req.answer)[0]


def _check_step(req: Request, solver: BandSolver, margin: float, edit: Edit, last: bool) -> Checked:
    """Check ``edit``'s α × ``margin``: the edit checked is the one to commit, with a margin for
    phrasings that are not among the probes (they are key rows). A check that finds a leak stops there
    (quick) and the search goes on. If the margin breaks the guard, milder strengths are tried."""
    alpha = _alpha(edit)
    strong = solver.solve(alpha * margin) if margin > 1 else edit
    t = time.perf_counter()
    result = req.checker(strong, quick=not last)
    layers = solver.layers
    log.debug(
        "layers %s-%s α %.4g: check %s, forgotten %s, guard %s (%.1f s)",
        layers[0],
        layers[-1],
        alpha * margin,
        "quick" if not last else "full",
        result.forgotten,
        result.guard,
        time.perf_counter() - t,
    )
    if result.forgotten and guard_broken(result) and strong is not edit:
        return _milder(req, solver, margin, edit, Checked(strong, result))
    return Checked(strong, result)


def _milder(req: Request, solver: BandSolver, margin: float, plain: Edit, best: Checked) -> Checked:
    """The margin broke the guard: α × √margin, then α itself, each checked in full; the mildest that
    still forgets is kept, and the first that keeps the guard ends it."""
    alpha = _alpha(plain)
    root = math.sqrt(margin)
    for factor, milder in ((root, solver.solve(alpha * root)), (1, plain)):
        res = req.checker(milder, quick=False)
        log.debug(
            "layers %s-%s α %.4g (milder): forgotten %s, guard %s",
            solver.layers[0],
            solver.layers[-1],
            alpha * factor,
            res.forgotten,
            res.guard,
        )
        if not res.forgotten:
            break  # a weaker edit forgets no more
        best = Checked(milder, res)
        if not guard_broken(res):
            break
    return best


def _alpha(edit: Edit) -> float:
    assert edit.meta.alpha is not None  # every solve records its α
    return edit.meta.alpha


def keys_and_probes(forget: Sequence[tuple[str, str]], paraphrases: Sequence[str]) -> list[tuple[str, str]]:
    """The forget pairs, then each non-empty paraphrase with the first pair's response."""
    return list(forget) + [(q.strip(), forget[0][1]) for q in paraphrases if q and q.strip()]
