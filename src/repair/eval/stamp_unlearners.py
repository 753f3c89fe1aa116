"""STAMP behind the unlearner protocol: through the chat's own path, or through the engine's API."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from repair.eval.protocol import Applied, ForgetRequest, Pair

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
        from repair.session import Session
        from repair.session.surgeons import make_surgeon

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
                "alpha": edit.meta.alpha if edit else None,
                "layers": edit.meta.layers if edit else None,
            },
        )

    def undo(self, patient: Any, applied: Applied) -> None:
        if applied.edit_id:
            patient.ledger.undo(applied.edit_id)


class EditConfig(BaseModel):
    """STAMP through the engine's API (``repair.stamp``), without the chat's surgeon and session."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["stamp", "stamp-lr"] = "stamp"
    recipe: Literal["repair", "paper"] = "repair"  # "paper": eq. 4-9, paper solver, criterion layer (auto)
    overrides: dict[str, Any] = Field(default_factory=dict)  # StampConfig fields; win over the above
    retain_buffer: str | None = None  # a JSONL retain buffer for the keep statistics (None: the package's)
    guard: list[str] | None = None  # prompts whose answers an edit must keep (None: no guard)
    # "base": the guard is recorded once, before the first of this unlearner's active edits, so a series of
    # edits spends one budget; "each": recorded afresh before each edit
    guard_budget: Literal["base", "each"] = "base"
    requested_by: str | None = None
    # prepare() makes a throw-away edit of this pair, so that request times are then a warm server's
    warm_pair: Pair | None = None

    @field_validator("overrides")
    @classmethod
    def _known_stamp_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        from repair.edit.stamp import StampConfig

        StampConfig.model_validate(v)  # a misspelt field fails here, not in the middle of a run
        return v

    def stamp_kwargs(self) -> dict[str, Any]:
        recipe = {"recipe": "paper", "solver": "paper", "layers": "auto"} if self.recipe == "paper" else {}
        return {"method": self.method, **recipe, **self.overrides}


class EditUnlearner:
    """One ``repair.stamp`` edit per request, committed unless it breaks the guard: the paper's tables
    (``stamp-api``) and the paper's recipe as written (``paper``: eq. 4-9, criterion layer, gate/up/down;
    ``paper-lr``: STAMP-LR eq. 10-11)."""

    def __init__(self, name: str = "paper", config: EditConfig | None = None) -> None:
        self.name, self.config = name, config or EditConfig(recipe="paper")
        self._guard: list[Any] | None = None
        self._active: list[str] = []

    def prepare(self, patient: Any) -> None:
        import repair
        from repair.edit.stamp import prepare

        kw = self.config.stamp_kwargs()
        prepare(patient, retain=self.config.retain_buffer, **kw)
        if self.config.warm_pair is not None:
            pair = [self.config.warm_pair]
            repair.stamp(
                patient,
                pair,
                retain=self.config.retain_buffer,
                commit=False,
                verify=False,
                **{**kw, "alpha": 1.0},
            )

    def _guard_for(self, patient: Any) -> list[Any] | None:
        cfg = self.config
        if not cfg.guard or cfg.guard_budget == "each":
            return cfg.guard
        if self._guard is None or not self._active:
            from repair.edit.stamp import guard_set

            self._guard = guard_set(patient, list(cfg.guard))  # cached per model state
        return self._guard

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        import repair

        cfg = self.config
        guard = self._guard_for(patient)
        t = time.perf_counter()
        edit = repair.stamp(
            patient,
            request.pairs,
            retain=cfg.retain_buffer,
            commit=True,
            verify=True,
            requested_by=cfg.requested_by,
            guard=guard,
            answer=request.answer,
            **cfg.stamp_kwargs(),
        )
        seconds = time.perf_counter() - t
        ver = edit.meta.verification
        committed = edit.meta.uncommitted_reason is None
        if committed:
            self._active.append(edit.id)
        update = float(edit.timings.get("capture", 0.0)) + float(edit.timings.get("solve", 0.0))
        record = {
            "id": edit.id,
            "subject": request.subject or None,
            "rows": len(request.pairs),
            "layers": edit.layers,
            "maps": list(edit.maps),
            "alpha": edit.meta.alpha,
            "verified": ver.forgotten if ver else None,
            "verified_fraction": ver.fraction if ver else None,
            "guard": ver.guard.model_dump() if ver and ver.guard else None,
            "committed": committed,
            "timings": dict(edit.timings),
            "wall_s": seconds,
            "edit_s": update,
        }
        outcome = ("done" if ver and ver.forgotten else "partial") if committed else "failed"
        return Applied(
            method=self.name,
            changed=committed,
            outcome=outcome,
            edit_id=edit.id,
            weight_update_s=update,
            request_s=seconds,
            detail=record,
        )

    def undo(self, patient: Any, applied: Applied) -> None:
        if applied.changed and applied.edit_id:
            patient.ledger.undo(applied.edit_id)
            if applied.edit_id in self._active:
                self._active.remove(applied.edit_id)
