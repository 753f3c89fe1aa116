"""What the session answers to one user message, and the names shared by its modules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from repair.edit.record import GuardCheck, Verification

Outcome = Literal["done", "partial", "failed", "unknown_target", "no_target", "declined"]
Engine = Literal["stamp", "stamp2"]
ENGINES: tuple[str, ...] = Engine.__args__  # type: ignore[attr-defined]  # the one list of engine names


class TurnStopped(Exception):
    """Raised by a wrapper of the watchdog or surgeon (the server's) to end a turn before it changes
    anything: a forget request that must wait, be confirmed first, or is not allowed. Not a failure: the
    session answers an error reply and logs nothing."""


class Attempt(BaseModel):
    """One verified STAMP attempt of a request, as the reply reports it."""

    alpha: float | None
    layers: list[int] | None
    fraction: float | None
    guard: GuardCheck | None


class ReplyPlan(BaseModel):
    """How the repair was planned: the surgeon's settings (STAMP) or the subject (STAMP-2)."""

    source: str  # "llm", "deterministic", ... or "stamp2"
    method: str
    layers: Literal["auto"] | list[int]
    maps: list[str] | None = None
    alpha: Literal["auto"] | float | None = None
    lam: float | None = None
    solver: str | None = None
    paraphrases: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)  # why LLM plans were rejected
    python: str | None = None  # the plan as a ``repair.stamp`` call
    subject: str | None = None
    forget: list[tuple[str, str]] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list)


class Reply(BaseModel):
    """What the session answers to one user message."""

    text: str
    kind: Literal["chat", "unlearn", "error"]
    outcome: Outcome | None = None  # for kind "unlearn"
    edit_id: str | None = None
    target: str | None = None
    verification: Verification | None = None
    plan: ReplyPlan | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = (
        None  # machine-readable reason for kind "error": "empty", "too_long", "busy", "stopped", "internal"
    )
