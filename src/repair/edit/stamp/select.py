"""Which band's edit a STAMP request returns, when the early band's edit breaks the guard or is costly."""

from __future__ import annotations

from dataclasses import dataclass, field

from repair.edit.cache import CollateralBaseKey
from repair.edit.delta import Edit
from repair.edit.stamp.bands import fallback_layers
from repair.edit.stamp.config import StampConfig
from repair.edit.stamp.guard import forgets_within_guard, guard_broken, guard_kept_count
from repair.edit.stamp.search import Request, SearchResult, search
from repair.edit.verify import collateral, next_token_logprobs

COLLATERAL_SAMPLES = 12  # retain pairs and generic prompts each: one forward of ~24 short sequences


@dataclass(frozen=True)
class Selection:
    """The search result returned, every band searched, and the collateral of each candidate that was
    compared (by name: "early", "mid", "early λ1", ...; empty when none was)."""

    chosen: SearchResult
    bands_tried: list[list[int]]
    costs: dict[str, float] = field(default_factory=dict)


def select(req: Request, cfg: StampConfig, early: SearchResult) -> Selection:
    """With ``layers="auto"`` (repair recipe), an early-band edit that breaks the guard, or that needed
    more than ``costly_alpha``, is compared with the mid band's (and with both bands at ``costly_lam``):
    the mid band replaces a guard-breaking edit unless it breaks more; otherwise, of the edits that
    forget within the guard, the one with the least collateral is kept, a ``costly_lam`` one first."""
    band = fallback_layers(req.patient.n_layers)
    tried = [early.layers]
    if not (cfg.layers == "auto" and cfg.recipe == "repair" and cfg.fallback_band and band != early.layers):
        return Selection(early, tried)
    broken = guard_broken(early.verification)
    costly = (
        cfg.costly_alpha is not None
        and early.verification is not None
        and early.verification.forgotten
        and early.alpha > cfg.costly_alpha
    )
    if not (broken or costly):
        return Selection(early, tried)
    tried.append(band)
    mid = search(req, cfg, band, cfg.fallback_alpha_start)
    cands = {"early": early, "mid": mid}
    if cfg.costly_lam is not None and cfg.costly_lam != cfg.lam:
        wide = cfg.model_copy(update={"lam": cfg.costly_lam})
        tag = f"λ{cfg.costly_lam:g}"
        cands[f"early {tag}"] = search(req, wide, early.layers, cfg.alpha_start)
        cands[f"mid {tag}"] = search(req, wide, band, cfg.fallback_alpha_start)
    ok = {k: c for k, c in cands.items() if forgets_within_guard(c.verification)}
    # a costly_lam edit that forgets within the guard comes first, whatever the collateral of the
    # others: on Table 8's requests those cost 1-4 % perplexity against 14-18 % for the edits at λ
    wide_ok = [k for k, c in ok.items() if c.config is not cfg]
    if broken and not wide_ok:  # the mid band's edit replaces the early one unless it breaks more
        better = not guard_broken(mid.verification) or guard_kept_count(mid.verification) > guard_kept_count(
            early.verification
        )
        return Selection(mid if better else early, tried)
    if wide_ok or len(ok) > 1:
        costs = {k: edit_collateral(req.patient, req.stats, c.edit) for k, c in ok.items()}
        return Selection(ok[min(wide_ok or ok, key=costs.__getitem__)], tried, costs)
    return Selection(early, tried)


def edit_collateral(patient, stats, edit: Edit) -> float:
    """Mean next-token KL the edit causes on text it must not touch: retain pairs (prompt and response)
    and generic prompts, all positions."""
    samples = stats.retain[:COLLATERAL_SAMPLES] + [(q, "") for q in stats.generic[:COLLATERAL_SAMPLES]]
    key = CollateralBaseKey(tuple(samples), patient.ledger.state)
    if key not in patient.cache:
        patient.cache[key] = next_token_logprobs(patient, samples)
    with patient.ledger.trial(edit):
        return collateral(patient.cache[key], next_token_logprobs(patient, samples))
