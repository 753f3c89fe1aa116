"""What a STAMP-2 edit keeps in place besides generic text: other entities' subject keys, and the keys of
the edits made before it.

A STAMP-2 edit writes the same output direction (the refusal vector u) for every subject. Its spill onto
another entity's key is small, but the spills of successive edits add up in that one direction, so after
ten edits every entity is refused. Two sets of rows in the same least squares remove the cause:

* C_E = X_E^T X_E over the last-token keys of a few hundred named entities (``data/keep_entities.txt``,
  none of them in the benchmark) in the edit's own question templates, each row weighted as one target
  row: an edit may move only what distinguishes its subject from other entities;
* the keys of the edits already applied, which must keep their (edited) outputs.

And one set of keys is held exactly (``prefix_keys``): the chat template's shared prefix, the system prompt
that every conversation starts with. It names entities ("SmolLM, trained by Hugging Face"; Qwen's "created
by Alibaba Cloud"), so every edit's spill onto entities landed there too and, summed over edits, moved the
start of every reply towards the refusal. Its keys are left unchanged by each edit, so by every sum of
edits.

Delta = R^T X_F (X_F^T X_F + X_P^T X_P + C_K + C_E + lam I)^-1: the factor of C_K + C_E + lam I is
computed once per model, the prior rows enter per request through Woodbury (solvers.keep_solve).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources

import torch

from repair.edit.cache import PriorKey
from repair.edit.capture import template_prefix_keys
from repair.edit.delta import Edit
from repair.edit.solvers import relative_lambda, ridge_cholesky
from repair.edit.stamp2.rows import read_rows
from repair.edit.stamp2.subject import chat_ids, subject_positions
from repair.edit.stamp2.vector import edit_prompts, templates


def keep_entities() -> list[str]:
    text = resources.files("repair.data").joinpath("keep_entities.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _tag(entities: Sequence[str], formats: bool) -> str:
    return hashlib.sha256(repr((list(entities), templates(formats))).encode()).hexdigest()[:12]


@torch.no_grad()
def entity_keys(
    patient, layers: Sequence[int], entities: Sequence[str], formats: bool = False, batch: int = 32
) -> dict[int, torch.Tensor]:
    """Down-map inputs at the last token of each entity's mentions, in every edit template (unedited
    model), per layer."""
    tok = patient.tokenizer
    seqs, poss = [], []
    for entity in entities:
        for prompt in edit_prompts(entity, formats=formats):
            pos = subject_positions(tok, prompt, entity)
            if pos:
                seqs.append(chat_ids(tok, prompt)[0]), poss.append(pos)
    downs = [patient.arch.module_name(layer, "down") for layer in sorted(layers)]
    parts: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for i in range(0, len(seqs), batch):
        rows = read_rows(patient, seqs[i : i + batch], poss[i : i + batch], inputs=downs)
        for layer, name in zip(sorted(layers), downs, strict=True):
            parts[layer].append(rows[name])
    return {layer: torch.cat(p) for layer, p in parts.items()}


def entity_factors(
    stats, layers: Sequence[int], lam: float, formats: bool = False
) -> dict[int, torch.Tensor]:
    """Cholesky factors of C_K + C_E + lam_abs I per down map (lam relative to C_K, as STAMP's), cached
    with the model's other statistics; the entity keys of all layers are read in one pass."""
    entities = keep_entities()
    files = {
        layer: f"chol-entities-{stats.keep_tag}-{_tag(entities, formats)}-{layer}-down-{lam:g}.pt"
        for layer in layers
    }
    keys: dict[int, torch.Tensor] = {}

    def factor(layer: int) -> torch.Tensor:
        if not keys:
            keys.update(entity_keys(stats.p, layers, entities, formats))
        c = stats.keep_c([layer], "down")[layer]
        x = keys[layer].double()
        return ridge_cholesky(
            c + x.T @ x,
            relative_lambda(lam, c),
            f"keep statistics of layer {layer} are not positive definite; increase lam",
        )

    return {layer: stats.memo(files[layer], lambda layer=layer: factor(layer)) for layer in layers}


def prefix_keys(patient, layers: Sequence[int]) -> dict[int, torch.Tensor] | None:
    """Down-map inputs at every position of the chat template's shared prefix, read from the model as it
    is now (the prefix attends only to itself, so held edits leave these keys as they were)."""
    keys = template_prefix_keys(patient.model, patient.arch, patient.tokenizer, layers)
    return None if keys is None else {layer: keys[(layer, "down")] for layer in layers}


def prior_keys(prior: Sequence[Edit], layer: int) -> torch.Tensor | None:
    """The keys of earlier edits' updates of this down map (rows that must keep their outputs)."""
    rows = [
        d.keys.double()
        for e in prior
        for d in e.deltas
        if d.layer == layer and d.map == "down" and d.keys is not None and len(d.keys)
    ]
    return torch.cat(rows) if rows else None


# above this many prior rows in a layer, the prior edits' second moment is kept as one dense matrix and
# factorised per request (n^3/3 flops, n = the down map's input width) instead of entering through
# Woodbury (m^3 in the m rows, which a few hundred edits of ~20 rows each make the larger)
DENSE_PRIOR_ROWS = 512


def prior_factor(
    patient, base: torch.Tensor, prior: Sequence[Edit], layer: int, tag: tuple
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The factor to solve against and the prior rows still to add through Woodbury: ``(base, X_P)``
    for few rows, else ``(chol(M + X_P^T X_P), None)`` with ``M = base base^T``. The dense sum is cached
    on the patient per (layer, settings ``tag``) with the ids of the edits in it; a request whose prior
    edits extend that list adds only the new rows, any other (an undo) sums them again."""
    kept = prior_keys(prior, layer)
    if kept is None or len(kept) <= DENSE_PRIOR_ROWS:
        return base, kept
    ids = [e.id for e in prior]
    key = PriorKey(layer, tag)
    cached = patient.cache.get(key)
    if cached is not None and cached[0] == ids[: len(cached[0])]:
        done, g = cached
        new = prior_keys([e for e in prior if e.id not in set(done)], layer)
    else:
        done, g = [], base.double() @ base.double().T
        new = kept
    if new is not None:
        g = g + new.T @ new
    patient.cache[key] = (ids, g)
    chol = torch.linalg.cholesky(g)
    return chol.to(base.dtype), None
