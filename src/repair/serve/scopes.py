"""Scopes: one base model held once, each scope's edits applied per request as unmerged low-rank adapters.

A scope is the unit whose forget changes its answers only: an API key's, or one end user's under a key
that allows ``user``. The global scope's edits are merged into the weights (the ledger does that); a
scope's own edits are committed to the ledger with that scope, never merged, and added to the MLP
outputs by forward hooks (``x @ Aᵀ @ Bᵀ``, a LoRA pair) only while a request of that scope runs on the
worker thread. Hooks rather than a PeftModel wrapper: the engine and the ledger address the MLP maps by
their module paths, which a wrapper would move.

Each scope has its own `Session` over a `ServedPatient`: a view of the shared patient whose ledger
commits in that scope and whose ``active`` edits (which key the engine's caches and guard sets) are the
global ones plus the scope's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from repair.edit.delta import MapDelta, hook_chain, output_hook
from repair.edit.ledger import EditRecord
from repair.edit.ledger.history import History
from repair.serve.security import GLOBAL
from repair.serve.wire import Progress
from repair.serve.worker import Event

Emit = Callable[[Event], None]
PAUSE_TOKENS = 8  # a generation outside a trial lets other scopes' chats run after every this many tokens


class ScopedLedger:
    """The shared ledger as one scope sees it; everything else is delegated."""

    def __init__(self, ledger: Any, scope: str, emit: Emit, between: Callable[[], Any] | None = None) -> None:
        self._ledger, self.scope, self._emit = ledger, scope, emit
        self._between = between  # called after each check of an edit (other scopes' chats run then)
        self._held: dict[str, Any] = {}  # the scope's Edit objects (an in-memory ledger cannot reload them)
        # the scope's own turns in the shared database (None for an in-memory ledger)
        self.history = History(ledger.store, scope) if getattr(ledger, "store", None) is not None else None
        self._seen = ledger.version if self.history is not None else 0

    def sync(self) -> bool:
        """Catch up with the database; True when it changed since this scope last looked. The shared
        ledger answers True only to the first scope that syncs after a change, and every scope's session
        must then re-read its turns (a purge by another process deleted some)."""
        changed = self._ledger.sync()
        if self.history is None:
            return changed
        seen, self._seen = self._seen, self._ledger.version
        return changed or seen != self._seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)

    def commit(
        self, edit: Any, *, scope: str | None = None, based_on: tuple[str, ...] | None = None, **meta: Any
    ) -> Any:
        """Commit ``edit`` in this scope; ``based_on``: the `state` it was made on (see `Ledger.commit`).
        The turns it appends (``append_turns``) go to this scope's history."""
        self._emit(Progress(step="commit", text=f"committing edit in scope {self.scope}"))
        out = self._ledger.commit(edit, scope=self.scope, based_on=based_on, history=self.history, **meta)
        self._held[edit.id] = edit
        return out

    @contextmanager
    def trial(self, edit: Any) -> Iterator[None]:
        layers = sorted({d.layer for d in edit.deltas})
        self._emit(
            Progress(step="edit", text=f"editing layers {layers[0]}-{layers[-1]}" if layers else "editing")
        )
        with self._ledger.trial(edit):
            yield
        if self._between is not None and self._ledger.state is not None:  # no trial left on the weights
            self._between()

    def list(self, include_undone: bool = False, scope: str | None = None) -> list[EditRecord]:
        return self._ledger.list(
            include_undone=include_undone, scope=None if self.scope == GLOBAL else self.scope
        )

    @property
    def own(self) -> list[Any]:
        """The scope's active edits that are not merged into the weights (none for the global scope)."""
        if self.scope == GLOBAL:
            return []
        # the scope's records only: a global edit another process has just committed is merged by the
        # ledger's next sync (the loading below may run it), never added per request as well
        merged = {e.id for e in self._ledger.active}
        ids = [
            r.id for r in self._ledger.list(scope=self.scope) if r.scope == self.scope and r.id not in merged
        ]
        if any(i not in self._held for i in ids) and self._ledger.store is not None:
            for e in self._ledger.edits_for(self.scope):  # made by an earlier run, or another process
                self._held.setdefault(e.id, e)
        return [self._held[i] for i in ids if i in self._held]

    @property
    def active(self) -> list[Any]:
        return list(self._ledger.active) + self.own

    @property
    def state(self) -> tuple[str, ...] | None:
        base = self._ledger.state
        return None if base is None else base + tuple(e.id for e in self.own)


class ServedPatient:
    """The shared patient as one scope's session sees it: its ledger is scoped, its chat replies stream."""

    def __init__(
        self, patient: Any, scope: str, emit: Emit, between: Callable[[], Any] | None = None
    ) -> None:
        self._patient = patient
        self.scope = scope
        self._emit = emit
        self._between = between
        self.ledger = ScopedLedger(patient.ledger, scope, emit, between)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._patient, name)

    def chat(
        self, prompt: str, *, history: list[dict[str, str]] | None = None, max_new_tokens: int = 64
    ) -> str:
        """A chat reply whose text so far is emitted after every token (greedy: the same tokens as
        ``Patient.chat``)."""
        sent = [0]

        def step(_: int, reply: str) -> bool:
            text = reply.lstrip()
            if len(text) > sent[0]:
                self._emit(text[sent[0] :])
                sent[0] = len(text)
            return False

        return self._patient.generate(
            [prompt], histories=[history or []], max_new_tokens=max_new_tokens, until=step
        )[0]

    def between(self) -> None:
        """A step of this scope's request has ended with only committed edits on the weights (a STAMP-2
        edit between two layers): other scopes' chats run now (see `Worker.interleave`), as between two
        checks of an edit (`ScopedLedger.trial`)."""
        if self._between is not None and not self._ledger_in_trial():
            self._between()

    def generate(self, prompts: list[str], **kwargs: Any) -> list[str]:
        """The patient's replies. Outside a trial (a forget request asking the model what it knows, the
        guard questions) the weights hold only committed edits: other scopes' chats run every
        ``PAUSE_TOKENS`` tokens, so that they do not wait for a whole long generation either."""
        if self._ledger_in_trial():
            self._emit(Progress(step="verify", text=f"checking {len(prompts)} question(s)"))
        elif self._between is not None and "each" not in kwargs:
            kwargs["each"] = lambda k: k % PAUSE_TOKENS or self.between()
        return self._patient.generate(prompts, **kwargs)

    def _ledger_in_trial(self) -> bool:
        return self._patient.ledger.state is None


class Adapters:
    """Per-request LoRA pairs of a scope's unmerged edits, as forward hooks on the MLP maps."""

    def __init__(self, patient: Any) -> None:
        self.patient = patient
        self._factors: dict[str, list[tuple[int, str, tuple[torch.Tensor, ...]]]] = {}
        # (edits, hook handles) of each open `applied` block, innermost last: a request run between the
        # checks of another scope's edit opens one inside that edit's, whose pairs step aside meanwhile
        self._open: list[tuple[list[Any], list[Any]]] = []

    def _pairs(self, edit: Any) -> list[tuple[int, str, tuple[torch.Tensor, ...]]]:
        if edit.id not in self._factors:
            device = next(self.patient.model.parameters()).device
            out = []
            for d in edit.deltas:
                if d.gate is None:
                    b, a = d.factors()
                    d = MapDelta(d.layer, d.map, b=b.float(), a=a.float())
                out.append((d.layer, d.map, hook_chain(d, device)))
            self._factors[edit.id] = out
        return self._factors[edit.id]

    def _hooks(self, edits: list[Any]) -> list[Any]:
        by_map: dict[tuple[int, str], list[tuple[torch.Tensor, ...]]] = {}
        for e in edits:
            for layer, name, chain in self._pairs(e):
                by_map.setdefault((layer, name), []).append(chain)
        arch, model = self.patient.arch, self.patient.model
        return [
            arch.linear(model, layer, name).register_forward_hook(output_hook(pairs))
            for (layer, name), pairs in by_map.items()
        ]

    @contextmanager
    def applied(self, edits: list[Any]) -> Iterator[int]:
        """Add these edits' deltas to the MLP outputs while the block runs (nothing when empty), and
        only these: an enclosing block's are lifted until this one ends."""
        if self._open:
            for h in self._open[-1][1]:
                h.remove()
        self._open.append((edits, self._hooks(edits)))
        try:
            yield len(edits)
        finally:
            for h in self._open.pop()[1]:
                h.remove()
            if self._open:
                outer = self._open[-1][0]
                self._open[-1] = (outer, self._hooks(outer))
