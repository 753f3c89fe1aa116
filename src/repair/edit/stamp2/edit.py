"""One STAMP-2 request, in closed form: map the subject's keys onto h + s·u (MEMIT-style spread)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from repair.edit.capture import right_padded
from repair.edit.delta import Edit, MapDelta, new_edit_id
from repair.edit.solvers import check_finite, keep_solve
from repair.edit.stamp2.config import Stamp2Config
from repair.edit.stamp2.subject import chat_ids, subject_positions
from repair.edit.stamp2.vector import edit_prompts, refusal_vector
from repair.edit.trace import StopForward, TraceDict


class NoMentionError(ValueError):
    """None of the edit prompts names the subject, so there is no key to edit."""


def _keyed(tok, prompts: Sequence[str], subject: str) -> tuple[list[list[int]], list[list[int]]]:
    seqs, poss = [], []
    for prompt in prompts:
        pos = subject_positions(tok, prompt, subject)
        if pos:
            seqs.append(chat_ids(tok, prompt)[0])
            poss.append(pos)
    if not seqs:
        raise NoMentionError(f"no prompt names {subject!r}; nothing to key the edit on")
    return seqs, poss


@torch.no_grad()
def _rows(
    patient,
    seqs: list[list[int]],
    poss: list[list[int]],
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
) -> dict[str, torch.Tensor]:
    """Module inputs (down maps) or outputs (blocks) at the subject positions, one row per mention."""
    device = next(patient.model.parameters()).device
    ids, mask = (t.to(device) for t in right_padded(seqs, patient.tokenizer.pad_token_id or 0))
    # the forward ends after the last traced module (callers list the deepest last): the layers above
    # the band and the LM head are not needed
    with TraceDict(patient.model, [*inputs, *outputs], stop=True) as tr:
        try:
            patient.model(input_ids=ids, attention_mask=mask, use_cache=False)
        except StopForward:
            pass
    out = {}
    for n in [*inputs, *outputs]:
        x = tr[n].input if n in inputs else tr[n].output
        x = x[0] if isinstance(x, tuple) else x
        out[n] = torch.cat([x[i, pos] for i, pos in enumerate(poss)]).float().cpu()
    return out


def forget_subject(patient, subject: str, cfg: Stamp2Config, stats, prompts: Sequence[str] = ()) -> Edit:
    """The edit (not applied) that moves ``subject``'s last-token state onto the refusal state.

    Layer by layer from the bottom of the band, the remaining residual shift is split evenly over the
    layers left (MEMIT), keys are re-read with the lower layers' updates in place, and each down map
    gets the ridge update Delta = R^T X_F (X_F^T X_F + C_K + lam I)^-1."""
    t0 = time.perf_counter()
    u = refusal_vector(patient, cfg.vector_layer, cfg.vector, stats)
    seqs, poss = _keyed(patient.tokenizer, [*prompts, *edit_prompts(subject)], subject)
    top = f"{patient.arch.layers}.{cfg.vector_layer}"
    z = _rows(patient, seqs, poss, outputs=[top])[top] + cfg.strength * u
    saved = {
        layer: patient.arch.linear(patient.model, layer, "down").weight.detach().clone()
        for layer in cfg.layers
    }
    deltas: list[MapDelta] = []
    try:
        for i, layer in enumerate(cfg.layers):
            down = patient.arch.module_name(layer, "down")
            rows = _rows(patient, seqs, poss, inputs=[down], outputs=[top])
            resid = (z - rows[top]) / (len(cfg.layers) - i)
            x = rows[down].double()
            # (C_K + lam I + X^T X)^-1 X^T from the cached Cholesky factor of C_K + lam I (Woodbury)
            a = keep_solve(stats.kfactor(layer, "down", cfg.lam)[0], x, None)(x.T).T  # float64: lam is small
            check_finite(a, resid)
            d = MapDelta(layer=layer, map="down", b=resid.T.float(), a=a.float(), keys=rows[down])
            Edit(id="", deltas=[d]).apply(patient.model, patient.arch)  # the next layer's keys see it
            deltas.append(d)
    finally:
        with torch.no_grad():  # the caller applies the edit (the ledger keeps undo exact)
            for layer, w in saved.items():
                patient.arch.linear(patient.model, layer, "down").weight.copy_(w)
    meta = {
        "method": "stamp2",
        "subject": subject,
        "layers": cfg.layers,
        "rows": sum(map(len, poss)),
        "strength": cfg.strength,
    }
    return Edit(id=new_edit_id(), deltas=deltas, meta=meta, timings={"total": time.perf_counter() - t0})
