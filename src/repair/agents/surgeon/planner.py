"""The deterministic planner (default settings, template paraphrases), the injection heuristic that
decides when the LLM's settings are not trusted, and the result type of a planning run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from repair.agents.surgeon.parsing import validate_plan
from repair.agents.surgeon.schema import MapName, RepairPlan
from repair.edit.paraphrases import template_paraphrases
from repair.edit.subjects import extract_subject

# -- injection heuristics --------------------------------------------------------------------------

_INJECTION = [
    re.compile(p, re.I)
    for p in (
        r"\b(ignore|disregard|override|forget)\b.{0,40}\b(previous|above|prior|earlier|all|your)\b.{0,30}"
        r"\b(instructions?|prompts?|rules?|directions?|messages?)\b",
        r"\b(system prompt|you are now|new instructions?|developer mode|jailbreak)\b",
        r"\b(set|use|change|make)\s+(the\s+)?(alpha|lambda|lam|rank|layers?|maps?|method|solver)\b",
        r"\b(alpha|lambda|lam|rank|layers?)\s*(=|:|to)\s*[\[\d]",
        r"[\"'](method|layers|maps|rank|lam|alpha|solver|paraphrases)[\"']\s*:",
        r"<\||\|>|<start_of_turn>|\[INST\]|<\|im_start\|>",
    )
]


def looks_like_injection(text: str) -> bool:
    """Whether the forget text seems to address the surgeon. A false positive only costs the
    LLM's settings (defaults are used instead), so the net is wide."""
    return any(p.search(text) for p in _INJECTION)


# -- planners --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanDefaults:
    """Settings of the deterministic planner, and the ones used when the LLM's are not trusted.

    Measured (docs/DESIGN notes): editing ``down`` only is exact and was no worse than all three
    maps; ``lam`` is relative to trace(C)/n; ``alpha="auto"`` lets the edit layer scale the shift.
    ``solver="exact"`` lands the shift: on SmolLM2, "delta" did not verify at α = 64 on three facts
    where "exact" did at α = 8-16.
    """

    method: Literal["stamp", "stamp-lr"] = "stamp"
    layers: Literal["auto"] | tuple[int, ...] = "auto"
    maps: tuple[MapName, ...] = ("down",)
    rank: int = 64  # only for stamp-lr; the paper finds r >= 64 stable
    lam: float = 0.1
    alpha: Literal["auto"] | float = "auto"
    solver: Literal["exact", "delta", "paper"] = "exact"
    n_paraphrases: int = 4

    def settings(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "layers": self.layers if self.layers == "auto" else list(self.layers),
            "maps": list(self.maps),
            "rank": self.rank if self.method == "stamp-lr" else None,
            "lam": self.lam,
            "alpha": self.alpha,
            "solver": self.solver,
        }


# The plan's settings, as opposed to its text (forget pair, paraphrases, subject, rationale).
SETTINGS = ("method", "layers", "maps", "rank", "lam", "alpha", "solver")


def deterministic_plan(
    forget_prompt: str,
    forget_response: str,
    *,
    subject: str | None = None,
    n_layers: int | None = None,
    defaults: PlanDefaults | None = None,
    rationale: str = "deterministic planner: default settings, template paraphrases",
) -> RepairPlan:
    """The fallback plan: default settings and template paraphrases of ``forget_prompt``."""
    defaults = defaults or PlanDefaults()
    subject = subject or extract_subject(forget_prompt) or extract_subject(forget_response)
    data = defaults.settings() | {
        "forget_prompt": forget_prompt,
        "forget_response": forget_response,
        "paraphrases": template_paraphrases(forget_prompt, subject, n=defaults.n_paraphrases),
        "subject": subject,
        "rationale": rationale,
    }
    if data["layers"] != "auto" and n_layers is not None:
        data["layers"] = [i for i in data["layers"] if i < n_layers] or "auto"
    return validate_plan(data, n_layers=n_layers)


class PlanResult(BaseModel):
    """A plan and how it was obtained."""

    plan: RepairPlan
    source: Literal["llm", "llm-retry", "fallback"]
    attempts: int  # LLM calls made
    errors: list[str] = Field(default_factory=list)  # why LLM answers were rejected
    notes: list[str] = Field(default_factory=list)  # what the surgeon changed in an accepted plan
    raw_outputs: list[str] = Field(default_factory=list)
    salvaged: bool = False  # the accepted reply was cut off at the token limit and read up to the cut
    latency_s: float = 0.0
