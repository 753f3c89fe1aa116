"""The watchdog's output (`Verdict`) and the LLM extractor's answer schema (`Extraction`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GenerateFn = Callable[[list[dict]], str]
ProbeFn = Callable[[str], str]


# ----------------------------------------------------------------------------------------------------
# Output types and the LLM schema
# ----------------------------------------------------------------------------------------------------
class Verdict(BaseModel):
    intent: Literal["chat", "unlearn"]
    confidence: float  # probability of the chosen intent
    target: str | None = None
    forget_prompt: str | None = None
    forget_response: str | None = None
    pairs: list[tuple[str, str]] = Field(default_factory=list)  # every forget pair found (primary first)
    source: Literal["history", "probe", "message", "none"] = "none"
    probes: list[str] = Field(default_factory=list)
    latency_s: float = 0.0
    classifier_p: float = 0.0  # classifier's P(unlearn)
    extractor: Literal["llm", "rules", "none"] = "none"
    llm_error: str | None = None
    lang: str | None = None  # the message's language (None: no language identification installed)
    llm_s: float = 0.0  # time spent in the LLM extractor (0 when the fast path decided alone)


class Extraction(BaseModel):
    """What the LLM extractor must answer."""

    model_config = ConfigDict(extra="ignore")
    intent: Literal["chat", "unlearn"]
    target: str | None = Field(default=None, max_length=200)
    turn: int | None = None  # 1-based index into the numbered history turns

    @field_validator("target")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        v = v.strip() if isinstance(v, str) else v
        return v or None

    @model_validator(mode="after")
    def _needs_something(self) -> Extraction:
        if self.intent == "unlearn" and self.target is None and self.turn is None:
            raise ValueError("intent 'unlearn' needs a target or a turn")
        return self
