"""Module inputs or outputs at chosen token positions, one row per position (the forward stops early)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from repair.edit.capture import right_padded
from repair.edit.trace import StopForward, TraceDict


@torch.no_grad()
def read_rows(
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
