"""Every unlearning method behind one protocol, so that a benchmark runs them all the same way.

    unlearner = make_unlearner("stamp")          # or "stamp-lr", "paper", "ga", "npo", ..., "icu"
    unlearner.prepare(patient)                   # once per model (statistics, caches)
    applied = unlearner.unlearn(patient, request)
    ...                                          # generate with applied.system (prompt-only methods)
    unlearner.undo(patient, applied)             # back to the weights before the request

Each method has its own typed config. STAMP goes through the same path as ``repair chat``
(``Session.forget``: surgeon plan, α search, behavioural check, guard, commit); the paper's recipe
calls ``repair.stamp`` as the paper writes it; the training baselines train the weights in place
and are undone from a snapshot; ``icu`` (in-context unlearning) changes no weight at all and only
adds a system instruction, which shows the difference between hiding knowledge and removing it.
"""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol

import torch
from pydantic import BaseModel, ConfigDict, Field

Pair = tuple[str, str]


class ForgetRequest(BaseModel):
    """What a user asked to forget, resolved to (prompt, response) pairs the model actually said."""

    model_config = ConfigDict(extra="forbid")
    subject: str  # "Marie Curie", "the capital of Portugal"
    pairs: list[Pair] = Field(min_length=1)
    request: str = ""  # the user's words


class Applied(BaseModel):
    """What one ``unlearn`` call did."""

    model_config = ConfigDict(extra="forbid")
    method: str
    changed: bool  # weights changed (or a system instruction set)
    outcome: str  # "done", "partial", "failed", "trained", "prompt"
    edit_id: str | None = None
    system: str | None = None  # a system instruction to prepend when generating (prompt-only methods)
    weight_update_s: float | None = None  # capture + solve (STAMP) or training (baselines)
    request_s: float = 0.0
    detail: dict[str, Any] = Field(default_factory=dict)  # method-specific figures, for the record only


class Unlearner(Protocol):
    name: str

    def prepare(self, patient: Any) -> None: ...

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied: ...

    def undo(self, patient: Any, applied: Applied) -> None: ...


# --------------------------------------------------------------------------------------------------
# STAMP through the chat's own path


class StampMethodConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overrides: dict[str, Any] = Field(default_factory=dict)  # StampConfig fields on top of every plan
    surgeon: str = "rule"
    escalate: bool = True


class StampUnlearner:
    """STAMP as ``repair chat`` runs it: ``Session.forget`` with the deterministic surgeon."""

    def __init__(self, name: str = "stamp", config: StampMethodConfig | None = None) -> None:
        self.name, self.config = name, config or StampMethodConfig()
        self._session = None

    def _session_for(self, patient: Any):
        from repair.session import Session, make_surgeon

        if self._session is None or self._session.patient is not patient:
            self._session = Session(
                patient,
                surgeon=make_surgeon(self.config.surgeon, patient.dtype),
                escalate=self.config.escalate,
                user="benchmark",
                stamp_overrides=self.config.overrides,
            )
        return self._session

    def prepare(self, patient: Any) -> None:
        self._session_for(patient).warm()

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        t = time.perf_counter()
        reply = self._session_for(patient).forget(request.subject, request.pairs)
        seconds = time.perf_counter() - t
        edit = (
            next((e for e in patient.ledger.active if e.id == reply.edit_id), None) if reply.edit_id else None
        )
        update = None
        if edit is not None:
            update = float(edit.timings.get("capture", 0.0)) + float(edit.timings.get("solve", 0.0))
        return Applied(
            method=self.name,
            changed=edit is not None,
            outcome=reply.outcome or "failed",
            edit_id=reply.edit_id,
            weight_update_s=update,
            request_s=seconds,
            detail={
                "text": reply.text,
                "alpha": edit.meta.get("alpha") if edit else None,
                "layers": edit.meta.get("layers") if edit else None,
            },
        )

    def undo(self, patient: Any, applied: Applied) -> None:
        if applied.edit_id:
            patient.ledger.undo(applied.edit_id)


class PaperMethodConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["stamp", "stamp-lr"] = "stamp"
    overrides: dict[str, Any] = Field(default_factory=dict)


class PaperUnlearner:
    """The RePAIR paper's recipe as written (eq. 4-9, criterion layer, gate/up/down; STAMP-LR eq. 10-11)."""

    def __init__(self, name: str = "paper", config: PaperMethodConfig | None = None) -> None:
        self.name, self.config = name, config or PaperMethodConfig()

    def prepare(self, patient: Any) -> None:
        from repair.edit.stamp import prepare

        prepare(patient)

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        import repair

        t = time.perf_counter()
        edit = repair.stamp(
            patient,
            request.pairs,
            recipe="paper",
            solver="paper",
            layers="auto",
            method=self.config.method,
            **self.config.overrides,
        )
        seconds = time.perf_counter() - t
        ver = edit.meta.get("verification") or {}
        update = float(edit.timings.get("capture", 0.0)) + float(edit.timings.get("solve", 0.0))
        return Applied(
            method=self.name,
            changed=True,
            outcome="done" if ver.get("forgotten") else "partial",
            edit_id=edit.id,
            weight_update_s=update,
            request_s=seconds,
            detail={"alpha": edit.meta.get("alpha"), "layers": edit.meta.get("layers")},
        )

    def undo(self, patient: Any, applied: Applied) -> None:
        if applied.edit_id:
            patient.ledger.undo(applied.edit_id)


# --------------------------------------------------------------------------------------------------
# Training baselines


class TrainingUnlearner:
    """A gradient baseline (``repair.eval.baselines``) trained in place on the forget pairs and a retain
    buffer; ``undo`` restores the trained tensors from a snapshot taken before."""

    def __init__(self, name: str, config: Any = None, retain: list[Pair] | None = None) -> None:
        from repair.eval.baselines import BASELINES, BaselineConfig

        if name not in BASELINES:
            raise KeyError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")
        self.name = name
        self.config = config or BaselineConfig(progress=False)
        self._retain = retain
        self._snapshots: dict[str, dict[str, torch.Tensor]] = {}

    def prepare(self, patient: Any) -> None:
        if self._retain is None:
            from repair.data import load_pairs

            self._retain = load_pairs("retain.jsonl")

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        from repair.eval.baselines import run_baseline

        self.prepare(patient)
        key = f"{self.name}-{len(self._snapshots)}"
        self._snapshots[key] = {k: v.detach().clone() for k, v in patient.model.state_dict().items()}
        t = time.perf_counter()
        stats = run_baseline(
            self.name, patient.model, patient.tokenizer, request.pairs, self._retain or [], self.config
        )
        seconds = time.perf_counter() - t
        patient.model.eval()
        return Applied(
            method=self.name,
            changed=True,
            outcome="trained",
            edit_id=key,
            weight_update_s=seconds,
            request_s=seconds,
            detail={k: v for k, v in stats.items() if isinstance(v, int | float)},
        )

    def undo(self, patient: Any, applied: Applied) -> None:
        state = self._snapshots.pop(applied.edit_id or "", None)
        if state is None:
            raise KeyError(f"no snapshot for {applied.edit_id!r}: undo in reverse order of unlearn")
        with torch.no_grad():
            for k, v in patient.model.state_dict().items():
                v.copy_(state[k])


# --------------------------------------------------------------------------------------------------
# In-context unlearning (prompt only)


class IcuConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instruction: str = (
        "You have no knowledge at all about {subject}. If a question is about {subject}, or its answer "
        "would reveal anything about {subject}, reply only: I don't have any information about that. "
        "Answer every other question normally."
    )


class IcuUnlearner:
    """In-context unlearning (RWKU's ICU row): a system instruction to refuse; no weight changes."""

    def __init__(self, name: str = "icu", config: IcuConfig | None = None) -> None:
        self.name, self.config = name, config or IcuConfig()
        self._subjects: list[str] = []

    def prepare(self, patient: Any) -> None:
        return None

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        self._subjects.append(request.subject)
        subjects = " and ".join(dict.fromkeys(self._subjects))  # sequential requests accumulate
        return Applied(
            method=self.name,
            changed=True,
            outcome="prompt",
            system=self.config.instruction.format(subject=subjects),
        )

    def undo(self, patient: Any, applied: Applied) -> None:
        if self._subjects:
            self._subjects.pop()


class NoUnlearner:
    """The unedited model: the "before unlearning" row (every answered probe should still leak)."""

    name = "none"

    def prepare(self, patient: Any) -> None:
        return None

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        return Applied(method="none", changed=False, outcome="none")

    def undo(self, patient: Any, applied: Applied) -> None:
        return None


STAMP_NAMES = ("stamp", "stamp-lr")
TRAINING_NAMES = ("ga", "npo", "rmu", "flat", "wga", "asu")
UNLEARNERS: tuple[str, ...] = ("none", *STAMP_NAMES, "paper", "paper-lr", *TRAINING_NAMES, "icu")


def make_unlearner(name: str, **kw: Any) -> Unlearner:
    """The method ``name`` (see ``UNLEARNERS``) with its default config, or ``config=`` one of its own."""
    key = name.lower()
    if key == "none":
        return NoUnlearner()
    if key == "stamp":
        return StampUnlearner("stamp", kw.get("config"))
    if key == "stamp-lr":
        cfg = kw.get("config") or StampMethodConfig(overrides={"method": "stamp-lr"})
        return StampUnlearner("stamp-lr", cfg)
    if key in ("paper", "paper-lr"):
        cfg = kw.get("config") or PaperMethodConfig(method="stamp-lr" if key == "paper-lr" else "stamp")
        return PaperUnlearner(key, cfg)
    if key in TRAINING_NAMES:
        return TrainingUnlearner(key, kw.get("config"), kw.get("retain"))
    if key == "icu":
        return IcuUnlearner("icu", kw.get("config"))
    raise KeyError(f"unknown method {name!r}; choose from {', '.join(UNLEARNERS)}")
