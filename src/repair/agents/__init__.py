"""Agents of the interactive loop: the watchdog (is this turn a forget request, and of what?) and the
surgeon (how to repair it, as a validated plan)."""

from repair.agents.surgeon import PlanResult, RepairPlan, Surgeon, deterministic_plan
from repair.agents.watchdog import Verdict, Watchdog, hf_generate_fn, openai_generate_fn

__all__ = [
    "PlanResult",
    "RepairPlan",
    "Surgeon",
    "Verdict",
    "Watchdog",
    "deterministic_plan",
    "hf_generate_fn",
    "openai_generate_fn",
]
