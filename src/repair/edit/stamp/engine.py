"""``repair.stamp``: one forget request, from the rows to a verified (and committed) edit."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from repair.edit.delta import Edit
from repair.edit.paraphrases import template_paraphrases
from repair.edit.record import Verification
from repair.edit.stamp.bands import fallback_layers, resolve_layers
from repair.edit.stamp.config import StampConfig, make_config
from repair.edit.stamp.guard import Checker, guard_broken, guard_now
from repair.edit.stamp.search import Request, keys_and_probes, search
from repair.edit.stamp.select import Selection, select
from repair.edit.stats import stats_for
from repair.edit.verify import GuardQuestion, forgot


def stamp(
    patient,
    forget: Sequence[tuple[str, str]],
    *,
    paraphrases: Sequence[str] | None = None,
    answer: str | None = None,
    config: StampConfig | None = None,
    retain: str | None = None,
    refusals: str | None = None,
    commit: bool = True,
    verify: bool = True,
    requested_by: str | None = None,
    check: Callable[..., Verification] | None = None,
    guard: Sequence[str] | Sequence[GuardQuestion] | None = None,
    **overrides,
) -> Edit:
    """Forget ``forget`` (a list of (prompt, response) pairs; usually one) by editing MLP weights.

    ``paraphrases`` are extra prompts with the same answer, added as forget rows (None: rule-based
    rewordings of the first prompt, the surgeon's fallback templates). ``answer`` is the string that
    must disappear (defaults to the response). ``check``: how the α search decides that a candidate
    edit (applied while it runs) forgets: ``check(quick=...)`` returns a ``Verification``, which becomes
    ``edit.meta.verification`` (default: generate the probes and look for the answer).
    ``quick`` marks a search step that is not the last: the check may stop at the first leak, but a
    "forgotten" verdict must be complete, since that edit is the one returned. A true ``final`` in the
    result ends the search. ``guard``: prompts whose current answers must survive (see
    ``guard_questions``), or guard questions recorded earlier (``guard_set``), whose answers then count
    against that state; an edit that forgets but keeps fewer than ``guard_keep`` of them ends the search,
    milder strengths are tried, and an edit that still breaks the guard is returned uncommitted
    (``edit.meta.uncommitted_reason == "guard"``). Keyword overrides set ``StampConfig`` fields (on
    top of the model's ``hparams/stamp`` file and ``config``), e.g.
    ``stamp(p, [(q, a)], layers=[5, 6], alpha=8, method="stamp-lr", rank=64)``.
    """
    cfg = make_config(patient.name, config, overrides)
    forget = [(str(p).strip(), str(r).strip()) for p, r in forget]
    if not forget or not all(p for p, _ in forget):
        raise ValueError("nothing to forget: give at least one non-empty (prompt, response) pair")
    if paraphrases is None:
        paraphrases = template_paraphrases(forget[0][0])
    samples = keys_and_probes(forget, paraphrases)
    answer = answer if answer is not None else forget[0][1]
    stats = stats_for(patient, retain=retain, refusals=refusals, **_stats_extra(cfg))
    t0 = time.perf_counter()
    layers = resolve_layers(patient, cfg, forget)
    kept, total = guard_now(patient, guard)
    probes = [p for p, _ in samples]
    check = check or partial(
        forgot, patient, probes, answer, guard=kept, guard_total=total, guard_keep=cfg.guard_keep
    )
    checker = Checker(patient, check, kept, total, cfg.guard_keep)
    req = Request(patient, stats, forget, samples, answer, verify, checker)
    sel = select(req, cfg, search(req, cfg, layers, cfg.alpha_start))
    edit = sel.chosen.edit
    edit.timings["total"] = time.perf_counter() - t0
    edit.meta.set(**_meta(sel, forget, paraphrases, answer, requested_by))
    result = sel.chosen.verification
    if verify and result is None:  # a fixed α: check the edit as it will be committed
        result = checker(edit, False)
    _finish(patient, edit, result, commit)
    return edit


def _meta(sel: Selection, forget, paraphrases, answer: str, requested_by: str | None) -> dict[str, Any]:
    """The ``EditMeta`` fields of the request beside the deltas (``config``: the full config of the
    returned edit, spec and policy, so that an escalation can continue its search)."""
    chosen = sel.chosen
    return dict(
        method=chosen.config.method,
        forget=list(forget),
        paraphrases=list(paraphrases),
        answer=answer,
        config=chosen.config.model_copy(),
        requested_by=requested_by,
        layers=chosen.layers,
        screened=chosen.screened,
        bands_tried=sel.bands_tried,
        **({"collateral": sel.costs} if sel.costs else {}),
    )


def _finish(patient, edit: Edit, result: Verification | None, commit: bool) -> None:
    """Record the verdict and commit, unless the edit forgets only by breaking what it must keep: then
    the caller decides, not the ledger."""
    edit.meta.verification = result
    if commit and guard_broken(result):
        commit = False
        edit.meta.uncommitted_reason = "guard"
    if commit:
        t = time.perf_counter()
        patient.ledger.commit(edit)
        edit.timings["write"] = time.perf_counter() - t
        patient.ledger.update_meta(edit.id, timings=edit.timings)


def prepare(
    patient,
    config: StampConfig | None = None,
    *,
    retain: str | None = None,
    refusals: str | None = None,
    **overrides,
) -> None:
    """Load (or compute once and cache on disk) the statistics that edits with this config need, so
    that the first request does not pay for them: C_K and its factors for the config's layers, and the
    refusal directions. The layers of ``layers="auto"`` under the paper recipe depend on the request,
    so only the fixed bands are prepared."""
    cfg = make_config(patient.name, config, overrides)
    stats = stats_for(patient, retain=retain, refusals=refusals, **_stats_extra(cfg))
    if cfg.layers == "auto" and cfg.recipe == "paper":
        return
    layers = resolve_layers(patient, cfg, [])
    if cfg.layers == "auto" and cfg.fallback_band:
        layers = sorted(set(layers) | set(fallback_layers(patient.n_layers)))
    for name in cfg.maps:
        stats.keep_c(layers, name)  # one capture for every layer missing from the cache, not one per layer
        for layer in layers:
            if cfg.method == "stamp-lr":
                stats.eig(layer, name)
            elif cfg.solver != "paper":
                stats.kfactor32(layer, name, cfg.lam)
    if cfg.recipe == "repair":
        stats.refusal_dirs()
        stats.keep_prefixes()  # tokenizing the 683 keep samples: ~0.1 s of a first request otherwise
    else:
        stats.refusal_out(layers, cfg.maps[-1])


def _stats_extra(cfg: StampConfig) -> dict[str, int]:
    return {"replies": cfg.keep_replies} if cfg.keep_replies else {}
