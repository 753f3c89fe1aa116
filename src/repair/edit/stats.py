"""Per-model statistics for edits, computed once and cached in memory and on disk.

* keep second moments C_K = X_K^T X_K per (layer, map), from the retain buffer and generic prompts;
* the Cholesky factor of C_K + lam I per (layer, map, lam), and eigh(C_K) for STAMP-LR, also on disk,
  so a request (even the first one in a new process) needs no n^3 work;
* the refusal direction per layer: mean residual at the last prompt token on prompts the model
  itself refuses minus that on prompts it answers (Arditi et al., 2024);
* mean MLP outputs on the reference refusal set, for the paper's steering vector (eq. 4).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from repair.data import load_pairs, load_prompts
from repair.edit.cache import StatsKey
from repair.edit.capture import capture, encode
from repair.edit.ledger import atomic_write_bytes
from repair.edit.solvers import relative_lambda, ridge_cholesky
from repair.eval.metrics import is_refusal
from repair.models.loader import repair_home

log = logging.getLogger(__name__)


class EditStats:
    def __init__(
        self,
        patient,
        retain: str | Path | None = None,
        refusals: str | Path | None = None,
        generic: str | Path | None = None,
        questions: str | Path | None = None,
        persist: bool = True,
        replies: int = 0,  # the model's own replies to the first N generic prompts join the keep rows (-1: all)
    ) -> None:
        self.p = patient
        self.retain = load_pairs(retain or "retain.jsonl")
        self.refusals = load_pairs(refusals or "refusals.jsonl")
        self.generic = load_prompts(generic or "generic_prompts.jsonl")
        self.questions = load_prompts(questions or "keep_questions.jsonl")
        self.dir = repair_home() / "stats" / _digest(patient.fingerprint) if persist else None
        # keep rows: the retain buffer with its responses, plus prompt-only generic chat and questions in
        # the common factual templates (an edit must tell "capital of X" from "capital of Y")
        self.keep = list(self.retain) + [(q, "") for q in self.generic + self.questions]
        if replies:  # and the model's own replies to generic prompts: how it writes, not only what it reads
            self.keep += self.own_replies(self.generic if replies < 0 else self.generic[:replies])
        self._keep_tag = _digest(self.keep)
        self._ref_tag = _digest([self.refusals, self.generic[:100]])
        self._prefixes: Counter[tuple[int, ...]] | None = None
        self._c: dict[tuple[int, str], torch.Tensor] = {}
        self._factors: dict[tuple, tuple[torch.Tensor, Any]] = {}  # Cholesky factors and eigendecompositions
        self._dirs: dict[int, torch.Tensor] | None = None
        self._ref_out: dict[tuple[int, str], torch.Tensor] = {}

    # -- disk --------------------------------------------------------------------------------
    def _path(self, name: str) -> Path | None:
        return self.dir / name if self.dir else None

    def _load(self, name: str):
        p = self._path(name)
        return torch.load(p, weights_only=True) if p and p.exists() else None

    def _save(self, name: str, obj) -> None:
        p = self._path(name)
        if p is None:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        torch.save(obj, tmp)
        tmp.replace(p)

    def memo(self, name: str, compute):
        """A per-model statistic by file name: from memory, else from disk, else ``compute()`` (then saved)."""
        key = ("memo", name)
        if key not in self._factors:
            value = self._load(name)
            if value is None:
                value = compute()
                self._save(name, value)
            self._factors[key] = (value, None)
        return self._factors[key][0]

    @property
    def keep_tag(self) -> str:
        """Digest of the keep samples: files derived from them carry it."""
        return self._keep_tag

    def own_replies(self, prompts: list[str], max_new_tokens: int = 48) -> list[tuple[str, str]]:
        """The model's greedy replies to ``prompts``, generated once per model and cached on disk."""
        name = f"replies-{_digest([prompts, max_new_tokens])}.json"
        p = self._path(name)
        if p is not None and p.exists():
            return [tuple(x) for x in json.loads(p.read_text(encoding="utf-8"))]
        log.warning(
            "generating the model's replies to %d generic prompts for its keep statistics (once per model)",
            len(prompts),
        )
        out = []
        for i in range(0, len(prompts), 16):
            batch = prompts[i : i + 16]
            out += list(zip(batch, self.p.generate(batch, max_new_tokens=max_new_tokens), strict=True))
        if p is not None:
            p.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(p, json.dumps(out).encode("utf-8"))
        return out

    # -- keep statistics ----------------------------------------------------------------------
    def keep_c(self, layers: list[int], name: str) -> dict[int, torch.Tensor]:
        missing = [layer for layer in layers if (layer, name) not in self._c]
        for layer in list(missing):
            c = self._load(f"keep-{self._keep_tag}-{layer}-{name}.pt")
            if c is not None:
                self._c[(layer, name)] = c.double()
                missing.remove(layer)
        if missing:
            caps = capture(
                self.p.model,
                self.p.arch,
                self.p.tokenizer,
                self.keep,
                missing,
                [name],
                "all",
                batch_size=16,
                progress=True,
            )
            for layer in missing:
                x = caps[(layer, name)][0].double()
                c = x.T @ x
                self._c[(layer, name)] = c
                self._save(f"keep-{self._keep_tag}-{layer}-{name}.pt", c.float())
        return {layer: self._c[(layer, name)] for layer in layers}

    def keep_prefixes(self) -> Counter[tuple[int, ...]]:
        """How many keep rows have each token prefix. A causal model gives identical activations to
        identical prefixes, so a forget row with one of these prefixes *is* a keep row (e.g. "What is
        the capital of" in "What is the capital of France?"); moving it would move every such question."""
        if self._prefixes is None:
            self._prefixes = Counter()
            for prompt, response in self.keep:
                self._prefixes.update(prefixes(self.p.tokenizer, prompt, response))
        return self._prefixes

    def duplicates(self, prompts: list[str]) -> list[tuple[str, str]]:
        """Keep samples that are themselves a forget prompt: they leave the keep set for this edit."""
        wanted = {p.strip().lower() for p in prompts}
        return [s for s in self.keep if s[0].strip().lower() in wanted]

    def eig(self, layer: int, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """eigh(C_K), cached: STAMP-LR's per-request cost is then O(r n f), not n^3."""
        key = (layer, name, "eig")
        if key not in self._factors:
            file = f"eig-{self._keep_tag}-{layer}-{name}.pt"
            cached = self._load(file)
            if cached is None:
                cached = torch.linalg.eigh(self.keep_c([layer], name)[layer])
                self._save(file, tuple(cached))
            self._factors[key] = tuple(cached)
        return self._factors[key]

    def kfactor(self, layer: int, name: str, lam: float) -> tuple[torch.Tensor, float]:
        """(Cholesky factor L of C_K + lam_abs I, lam_abs), cached in memory and on disk. A request
        applies (C_K + lam_abs I)^-1 by ``cholesky_solve`` on its few columns; the factor alone costs a
        third of the explicit inverse, and a new process loads it instead of factorising."""
        key = (layer, name, lam)
        if key not in self._factors:
            file = f"chol-{self._keep_tag}-{layer}-{name}-{lam:g}.pt"
            cached = self._load(file)
            if cached is None:
                c = self.keep_c([layer], name)[layer]
                lam_abs = relative_lambda(lam, c)
                chol = ridge_cholesky(
                    c,
                    lam_abs,
                    f"keep statistics of layer {layer} {name} are not positive definite; "
                    f"increase lam (now {lam:g})",
                )
                cached = {"chol": chol, "lam_abs": torch.tensor(lam_abs, dtype=torch.float64)}
                self._save(file, cached)
            self._factors[key] = (cached["chol"], float(cached["lam_abs"]))
        return self._factors[key]

    def kfactor32(self, layer: int, name: str, lam: float) -> torch.Tensor:
        """``kfactor``'s factor as float32, for the per-request triangular solves (see solvers.keep_solve)."""
        key = (layer, name, lam, "f32")
        if key not in self._factors:
            self._factors[key] = (self.kfactor(layer, name, lam)[0].float(), None)
        return self._factors[key][0]

    # -- steering targets ----------------------------------------------------------------------
    def refusal_dirs(self) -> dict[int, torch.Tensor]:
        if self._dirs is None:
            cached = self._load(f"refusal-dirs-{self._ref_tag}.pt")
            if cached is not None:
                self._dirs = {int(k): v for k, v in cached.items()}
            else:
                self._dirs = self._compute_refusal_dirs()
                self._save(f"refusal-dirs-{self._ref_tag}.pt", {str(k): v for k, v in self._dirs.items()})
        return self._dirs

    def _compute_refusal_dirs(self) -> dict[int, torch.Tensor]:
        prompts = [p for p, _ in self.refusals]
        log.warning("finding which of %d reference prompts the model refuses (once per model)", len(prompts))
        replies = []
        for i in range(0, len(prompts), 16):
            replies += self.p.generate(prompts[i : i + 16], max_new_tokens=16)
        refused = [p for p, r in zip(prompts, replies, strict=True) if is_refusal(r)]
        if len(refused) < 4:  # a model that refuses nothing: fall back to teacher-forced refusals
            refused = prompts
        answered = self.generic[:100]
        layers = list(range(self.p.n_layers))

        def mean_last(prompts: list[str]) -> dict[int, torch.Tensor]:
            caps = capture(
                self.p.model,
                self.p.arch,
                self.p.tokenizer,
                [(p, "") for p in prompts],
                layers,
                [],
                "last",
                residual=True,
            )
            return {layer: caps[(layer, "resid")][1].mean(0) for layer in layers}

        a, b = mean_last(refused), mean_last(answered)
        return {layer: a[layer] - b[layer] for layer in layers}

    def refusal_out(self, layers: list[int], name: str) -> dict[int, torch.Tensor]:
        """Mean output of ``name`` over the reference refusal set (the paper's D_ref term)."""
        missing = [layer for layer in layers if (layer, name) not in self._ref_out]
        if missing:
            caps = capture(
                self.p.model,
                self.p.arch,
                self.p.tokenizer,
                self.refusals,
                missing,
                [name],
                "all",
                batch_size=16,
            )
            for layer in missing:
                self._ref_out[(layer, name)] = caps[(layer, name)][1].mean(0)
        return {layer: self._ref_out[(layer, name)] for layer in layers}


def prefixes(tok, prompt: str, response: str = "") -> list[tuple[int, ...]]:
    e = encode(tok, prompt, response)
    return [tuple(e.ids[e.user_start : t + 1]) for t in e.positions("all")]


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj).encode()).hexdigest()[:16]


def stats_for(patient, **kwargs) -> EditStats:
    key = StatsKey(tuple(sorted((k, str(v)) for k, v in kwargs.items())))
    if key not in patient.cache:
        patient.cache[key] = EditStats(patient, **kwargs)
    return patient.cache[key]
