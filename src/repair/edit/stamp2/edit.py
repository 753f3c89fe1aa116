"""One STAMP-2 request, in closed form: map the subject's keys onto h + s·u (MEMIT-style spread)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from repair.edit.delta import Edit, MapDelta, new_edit_id
from repair.edit.solvers import check_finite, hold, keep_solve
from repair.edit.stamp2.config import Stamp2Config, load_hparams
from repair.edit.stamp2.keep import entity_factors, prefix_keys, prior_factor
from repair.edit.stamp2.rows import BandRows
from repair.edit.stamp2.subject import chat_ids, subject_positions
from repair.edit.stamp2.vector import edit_prompts, refusal_vector


class NoMentionError(ValueError):
    """None of the edit prompts names the subject, so there is no key to edit."""


def _keyed(tok, prompts: Sequence[str], subject: str) -> tuple[list[list[int]], list[list[int]]]:
    """Each prompt naming the subject, cut after its last mention: a causal model's states there do not
    depend on the tokens that follow, so the rows are exact and the forwards shorter."""
    seqs, poss = [], []
    for prompt in prompts:
        pos = subject_positions(tok, prompt, subject)
        if pos:
            seqs.append(chat_ids(tok, prompt)[0][: max(pos) + 1])
            poss.append(pos)
    if not seqs:
        raise NoMentionError(f"no prompt names {subject!r}; nothing to key the edit on")
    return seqs, poss


def _solve(
    x: torch.Tensor, factor: torch.Tensor, kept: torch.Tensor | None, held: torch.Tensor | None
) -> torch.Tensor:
    """a = X^T (M + X^T X + X_P^T X_P)^-1 from the Cholesky factor of M (+ X_P^T X_P), Woodbury for the
    rest, in float64 (lam is small); then held to leave the ``held`` keys' outputs unchanged."""
    solve = keep_solve(factor, x if kept is None else torch.cat([x, kept]), None)
    a = solve(x.T).T
    return a if held is None else hold(a, solve, held.T)


def gate_vector(keys: torch.Tensor, a: torch.Tensor, tau: float) -> torch.Tensor:
    """g with x·g >= 1 exactly where x reaches ``tau`` of the keys' median reach: reach is 1ᵀ A x, the
    weight the ridge update gives x over all its rows (the matched filter of the keys against C_K, so
    generic inputs stay near 0 and the subject's mentions in other wordings near 1)."""
    w = a.double().sum(0)
    ref = (keys.double() @ w).median()
    if not ref > 0:
        raise ValueError(f"the edit's keys do not reach their own update (median reach {ref.item():.3g})")
    return (w / (ref * tau)).float()


def prepare(patient, **overrides: object) -> tuple[Stamp2Config, object]:
    """The model's settings (its hparams file with ``overrides``) and statistics, with everything an edit
    needs computed or loaded now, so that the first request does not pay for it."""
    from repair.edit.stats import stats_for

    cfg = load_hparams(patient.name, patient.n_layers, **overrides)
    stats = stats_for(patient, replies=-1 if cfg.keep_replies else 0)
    stats.keep_c(cfg.layers, "down")
    refusal_vector(patient, cfg.vector_layer, cfg.vector, stats)
    if cfg.keep_entities:
        entity_factors(stats, cfg.layers, cfg.lam, cfg.formats)
    return cfg, stats


def forget_subject(
    patient, subject: str, cfg: Stamp2Config, stats, prompts: Sequence[str] = (), prior: Sequence[Edit] = ()
) -> Edit:
    """The edit (not applied) that moves ``subject``'s last-token state onto the refusal state.

    Layer by layer from the bottom of the band, the remaining residual shift is split evenly over the
    layers left (MEMIT), keys are re-read with the lower layers' updates in place, and each down map
    gets the ridge update Delta = R^T X_F (X_F^T X_F + X_P^T X_P + C_K + C_E + lam I)^-1, where X_P are
    the keys of the ``prior`` edits (applied already) and C_E other entities' keys (see keep.py), held
    to leave the chat template's shared prefix exactly unchanged."""
    t0 = time.perf_counter()
    u = refusal_vector(patient, cfg.vector_layer, cfg.vector, stats)
    seqs, poss = _keyed(patient.tokenizer, [*prompts, *edit_prompts(subject, formats=cfg.formats)], subject)
    reader = BandRows(patient, seqs, poss, cfg.vector_layer)
    first = reader.read(cfg.layers[0])  # nothing is edited yet: its top rows are the starting states
    z = first[1] + cfg.strength * u
    if cfg.keep_entities:
        factors = entity_factors(stats, cfg.layers, cfg.lam, cfg.formats)
    else:
        factors = {layer: stats.kfactor(layer, "down", cfg.lam)[0] for layer in cfg.layers}
    held = prefix_keys(patient, cfg.layers) if cfg.keep_prefix else None
    deltas: list[MapDelta] = []
    for i, layer in enumerate(cfg.layers):
        keys, top = first if i == 0 else reader.read(layer)
        resid = (z - top) / (len(cfg.layers) - i)
        factor, kept = factors[layer], None
        if cfg.keep_prior:
            factor, kept = prior_factor(
                patient, factor, prior, layer, (cfg.lam, cfg.formats, cfg.keep_entities)
            )
        a = _solve(keys.double(), factor, kept, None if held is None else held[layer])
        check_finite(a, resid)
        gate = gate_vector(keys.double(), a, cfg.gate) if cfg.gate else None
        d = MapDelta(layer=layer, map="down", b=resid.T.float(), a=a.float(), keys=keys, gate=gate)
        # the next layer's keys see it through a hook: the shared weights are never written, so the
        # server may answer other requests between two layers (the caller applies the edit)
        reader.add(d)
        deltas.append(d)
        patient.between()  # nothing of the edit is on the weights: a server answers others' requests here
    meta = {
        "method": "stamp2",
        "subject": subject,
        "layers": cfg.layers,
        "rows": sum(map(len, poss)),
        "strength": cfg.strength,
        "formats": cfg.formats,
        "config": cfg,
    }
    return Edit(id=new_edit_id(), deltas=deltas, meta=meta, timings={"total": time.perf_counter() - t0})
