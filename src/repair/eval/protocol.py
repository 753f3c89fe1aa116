"""The protocol every unlearning method follows (prepare, unlearn, undo) and the records it passes."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

Pair = tuple[str, str]


class ForgetRequest(BaseModel):
    """What a user asked to forget, resolved to (prompt, response) pairs the model actually said."""

    model_config = ConfigDict(extra="forbid")
    subject: str  # "Marie Curie", "the capital of Portugal"
    pairs: list[Pair] = Field(min_length=1)
    request: str = ""  # the user's words
    answer: str | None = None  # what must be gone for the edit to count (None: the whole response)


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
