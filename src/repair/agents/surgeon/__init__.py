"""The surgeon: turns a forget pair (p_f, r_f) into a validated RepairPlan.

An LLM (by default the bundled Qwen2.5-Coder, wired in by the caller as ``generate_fn``) proposes
the plan as JSON. A pydantic schema checks it; an invalid answer is retried once with the errors fed
back, then a deterministic planner takes over. The plan is only data: nothing the model writes is
ever executed. It is shown to the user as an equivalent Python snippet (``RepairPlan.to_python``).

Safety rules, enforced here and not left to the LLM:
- ``forget_prompt`` / ``forget_response`` of the plan are always the inputs (the LLM cannot change
  what is forgotten);
- every setting is bounded by the schema, and layers by the patient's depth;
- when the forget text looks like it carries instructions, the LLM's settings are replaced by the
  defaults and only its paraphrases (filtered) are kept.

Modules: ``schema`` (the plan and its bounds), ``parsing`` (model-written JSON into a plan),
``subjects`` (subject and mention heuristics), ``paraphrases`` (templates), ``planner`` (the
deterministic planner and the injection heuristic), ``core`` (the Surgeon).
"""

from repair.agents.surgeon.core import Surgeon
from repair.agents.surgeon.parsing import (
    extract_json_object,
    parse_plan,
    salvage_truncated_object,
    validate_plan,
)
from repair.agents.surgeon.planner import PlanDefaults, PlanResult, deterministic_plan, looks_like_injection
from repair.agents.surgeon.schema import (
    MAX_FORGET_CHARS,
    MAX_PARAPHRASES,
    GenerateFn,
    PlanError,
    RepairPlan,
)
from repair.edit.paraphrases import template_paraphrases
from repair.edit.subjects import extract_subject, mentions

__all__ = [
    "MAX_FORGET_CHARS",
    "MAX_PARAPHRASES",
    "GenerateFn",
    "PlanDefaults",
    "PlanError",
    "PlanResult",
    "RepairPlan",
    "Surgeon",
    "deterministic_plan",
    "extract_json_object",
    "extract_subject",
    "looks_like_injection",
    "mentions",
    "parse_plan",
    "salvage_truncated_object",
    "template_paraphrases",
    "validate_plan",
]
