"""The patient: a served chat model, its architecture map and its edit ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from repair.edit.cache import LoadTimeKey, PatientCache
from repair.edit.ledger import Ledger
from repair.models.arch import ArchMap, arch_for
from repair.models.chat import adds_special_tokens, render_chat
from repair.models.decoding import greedy
from repair.models.loader import load_hf, repair_home, resolve, resolve_dtype
from repair.models.registry import DEFAULT_MODEL


class Patient:
    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        name: str,
        source: str,
        fingerprint: str,
        ledger_dir: Path | None,
        fingerprint_aliases: tuple[str, ...] = (),
    ) -> None:
        self.model, self.tokenizer, self.name, self.source = model, tokenizer, name, source
        self.fingerprint = fingerprint
        self.fingerprint_aliases = (
            fingerprint_aliases  # older identities of the same files (ledger migration)
        )
        self.arch: ArchMap = arch_for(model)
        self.ledger = Ledger(model, self.arch, fingerprint, ledger_dir, aliases=fingerprint_aliases)
        self.cache = PatientCache()  # per-model statistics and per-state answers (see repair.edit.cache)

    @property
    def dtype(self) -> str:
        """The weights' dtype by name ("float32", "bfloat16")."""
        return str(next(self.model.parameters()).dtype).removeprefix("torch.")

    @property
    def n_layers(self) -> int:
        return self.arch.n_layers(self.model)

    def between(self) -> None:
        """A long edit calls this where the weights hold only committed edits (STAMP-2 between two layers
        and after probing): a server answers other users' requests there (`serve.scopes.ServedPatient`,
        which also does so every few tokens of a generation outside a trial). Alone there is nothing to
        do."""

    def chat_text(self, messages: list[dict[str, str]]) -> str:
        """The chat-templated text the model continues (with the generation header; see
        `repair.models.chat` for models without a template)."""
        return render_chat(self.tokenizer, messages)

    @torch.no_grad()
    def generate(
        self,
        prompts: list[str],
        *,
        max_new_tokens: int = 64,
        histories: list[list[dict[str, str]]] | None = None,
        stop_when: Callable[[int, str], bool] | None = None,
        until: Callable[[int, str], bool] | None = None,
        each: Callable[[int], object] | None = None,
    ) -> list[str]:
        """Greedy chat replies for a batch of user prompts (optionally after earlier turns).

        ``stop_when``: the whole batch stops as soon as one reply so far satisfies ``stop_when(i, reply)``
        (a verification that has found a leak needs no more tokens). ``until``: reply i ends once ``until(i, reply)``
        holds (a check that has seen what it looks for). ``each(k)``: called after the k-th new token
        (see ``greedy``). Replies are cut where they stopped."""
        if not prompts:
            return []
        tok = self.tokenizer
        texts = [
            self.chat_text((histories[i] if histories else []) + [{"role": "user", "content": p}])
            for i, p in enumerate(prompts)
        ]
        side = tok.padding_side
        tok.padding_side = "left"  # generation continues from the right edge
        try:
            batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=adds_special_tokens(tok))
        finally:
            tok.padding_side = side
        batch = batch.to(next(self.model.parameters()).device)
        # greedy, each row leaving the batch once finished (see repair.models.decoding)
        out = greedy(
            self.model,
            tok,
            batch["input_ids"],
            batch["attention_mask"],
            max_new_tokens=max_new_tokens,
            stop_when=stop_when,
            until=until,
            each=each,
        )
        return [tok.decode(o, skip_special_tokens=True).strip() for o in out]

    def chat(
        self, prompt: str, *, history: list[dict[str, str]] | None = None, max_new_tokens: int = 64
    ) -> str:
        return self.generate([prompt], max_new_tokens=max_new_tokens, histories=[history or []])[0]

    def __repr__(self) -> str:
        return (
            f"Patient({self.name!r}, family={self.arch.family}, layers={self.n_layers}, dtype={self.dtype}, "
            f"edits={len(self.ledger.active)})"
        )


def default_ledger_dir(name: str) -> Path:
    safe = name.replace("/", "__")
    return repair_home() / "ledgers" / safe


def load(
    name_or_path: str = DEFAULT_MODEL,
    *,
    ledger: str | Path | None | bool = True,
    dtype: str | torch.dtype | None = None,
) -> Patient:
    """Load a patient and re-apply its ledger's active edits in order.

    ``ledger``: True for the default folder under ``$REPAIR_HOME/ledgers``, a path for another one,
    or False/None for an in-memory ledger (nothing persisted). ``dtype``: the weights' dtype, float32
    (default) or "bfloat16" (about twice as fast to decode on a CPU; see ``resolve_dtype``).
    """
    if not name_or_path or not str(name_or_path).strip():
        raise ValueError("empty model name")
    t0 = time.perf_counter()
    dtype = resolve_dtype(dtype)
    name, source, fingerprint = resolve(name_or_path)
    model, tok = load_hf(source, dtype=dtype)
    ledger_dir = default_ledger_dir(name) if ledger is True else (Path(ledger) if ledger else None)
    aliases: tuple[str, ...] = ()
    if Path(source).is_dir() and fingerprint.startswith("sha256:"):
        from repair.models.identity import legacy_fingerprint, weight_files

        aliases = (legacy_fingerprint(weight_files(Path(source))),)
        if "/" in name:  # a hub id: ledgers from before content hashes recorded "hub:ID"
            aliases += (f"hub:{name}",)
    patient = Patient(
        model,
        tok,
        name=name,
        source=source,
        fingerprint=fingerprint,
        ledger_dir=ledger_dir,
        fingerprint_aliases=aliases,
    )
    patient.ledger.load()
    patient.cache[LoadTimeKey()] = time.perf_counter() - t0
    return patient
