"""What the session answers to one user message, and the names shared by its modules."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Outcome = Literal["done", "partial", "failed", "unknown_target", "no_target", "declined"]
Engine = Literal["stamp", "stamp2"]
ENGINES: tuple[str, ...] = Engine.__args__  # type: ignore[attr-defined]  # the one list of engine names


class Reply(BaseModel):
    """What the session answers to one user message."""

    text: str
    kind: Literal["chat", "unlearn", "error"]
    outcome: Outcome | None = None  # for kind "unlearn"
    edit_id: str | None = None
    target: str | None = None
    verification: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None  # how the repair was planned (source, settings, python snippet)
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = (
        None  # machine-readable reason for kind "error": "empty", "too_long", "busy", "internal"
    )
