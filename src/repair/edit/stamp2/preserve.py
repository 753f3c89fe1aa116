"""Other subjects' keys, kept: STAMP-2's edit must not move the names it was not asked about.

The generic keep statistics C_K come from ordinary text, where a name's last token is rare; an edit
that maps one subject's key onto the refusal state then also moves other names that share its
direction ("forget Toyota" turned "What is the capital of France?" into a refusal). Here the keys of a
fixed list of subjects (``data/stamp2/preserved_subjects.txt``, written by hand and disjoint from the
forget-quality dev and test sets) join the keep term with weight w per key:

    A = X_F (C_K + lam I + w K_P^T K_P + X_F^T X_F)^-1

A subject on the list that is itself to be forgotten is taken out again (Woodbury ``remove``).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

import torch

from repair.edit.solvers import NonFiniteEditError, relative_lambda
from repair.edit.stamp2.subject import mentions
from repair.edit.stamp2.vector import edit_prompts


@lru_cache(maxsize=1)
def preserved_subjects() -> tuple[str, ...]:
    text = (
        resources.files("repair.data").joinpath("stamp2/preserved_subjects.txt").read_text(encoding="utf-8")
    )
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def overlaps(name: str, subject: str) -> bool:
    """Whether two subjects share a name ("Marie Curie" and "Curie"), case-insensitive."""
    a = {m.lower() for m in mentions(name)}
    b = {m.lower() for m in mentions(subject)}
    return bool(a & b)


class PreservedKeys:
    """Per layer: the down-map keys of the preserved subjects (rows, with the subject of each row) and
    the Cholesky factor of C_K + lam I + w K^T K, computed once per model and cached."""

    def __init__(self, patient, stats, layers: list[int], templates: int) -> None:
        self.p, self.stats, self.layers, self.templates = patient, stats, list(layers), templates
        names = preserved_subjects()
        self.tag = hashlib.sha256(repr((names, templates)).encode()).hexdigest()[:12]
        self._names: list[str] = []
        self._keys: dict[int, torch.Tensor] = {}
        self._chol: dict[tuple[int, float, float], torch.Tensor] = {}

    def keys(self, layer: int) -> torch.Tensor:
        if layer not in self._keys:
            file = f"stamp2-preserved-{self.tag}-{layer}.pt"
            saved = self.stats._load(file)
            if saved is None:
                self._capture_all()
                return self._keys[layer]
            self._keys[layer], self._names = saved["keys"].double(), list(saved["names"])
        return self._keys[layer]

    @torch.no_grad()
    def _capture_all(self) -> None:
        """Every band layer's keys in one pass over the preserved prompts, saved per layer."""
        from repair.edit.stamp2.edit import _keyed, _rows

        seqs, poss, names = [], [], []
        for name in preserved_subjects():
            s, p = _keyed(self.p.tokenizer, edit_prompts(name, self.templates), name)
            seqs, poss = seqs + s, poss + p
            names += [name for pos in p for _ in pos]  # one row per mention
        downs = {layer: self.p.arch.module_name(layer, "down") for layer in self.layers}
        parts = [
            _rows(self.p, seqs[i : i + 64], poss[i : i + 64], inputs=list(downs.values()))
            for i in range(0, len(seqs), 64)
        ]
        self._names = names
        for layer, down in downs.items():
            k = torch.cat([part[down] for part in parts]).float()
            self.stats._save(f"stamp2-preserved-{self.tag}-{layer}.pt", {"keys": k, "names": names})
            self._keys[layer] = k.double()

    def factor(self, layer: int, lam: float, weight: float) -> torch.Tensor:
        key = (layer, lam, weight)
        if key not in self._chol:
            c = self.stats.keep_c([layer], "down")[layer]
            k = self.keys(layer)
            m = c + relative_lambda(lam, c) * torch.eye(c.shape[0], dtype=c.dtype) + weight * (k.T @ k)
            chol, info = torch.linalg.cholesky_ex(m)
            if int(info) != 0:
                raise NonFiniteEditError(f"preserved keys of layer {layer}: not positive definite")
            self._chol[key] = chol
        return self._chol[key]

    def rows_of(self, layer: int, subject: str) -> torch.Tensor:
        """The rows of preserved subjects that share a name with ``subject`` (to be taken out)."""
        keys = self.keys(layer)
        return keys[[i for i, name in enumerate(self._names) if overlaps(name, subject)]]


def preserved_keys(patient, stats, layers: list[int], templates: int) -> PreservedKeys:
    """The patient's preserved keys, made once per process (the keys of the unedited weights)."""
    key = ("stamp2-preserved", tuple(layers), templates)
    if key not in patient.cache:
        patient.cache[key] = PreservedKeys(patient, stats, layers, templates)
    return patient.cache[key]
