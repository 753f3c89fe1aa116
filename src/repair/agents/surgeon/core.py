"""The Surgeon: asks the LLM for a plan, retries once with the errors, falls back to the
deterministic planner, and applies the rules the schema cannot know (subject, paraphrases, locks)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from repair.agents.prompts import surgeon_messages, surgeon_retry_message
from repair.agents.surgeon.parsing import parse_reply, validate_plan
from repair.agents.surgeon.planner import (
    SETTINGS,
    PlanDefaults,
    PlanResult,
    deterministic_plan,
    looks_like_injection,
)
from repair.agents.surgeon.schema import (
    MAX_FORGET_CHARS,
    MAX_PARAPHRASES,
    MAX_RAW_CHARS,
    GenerateFn,
    PlanError,
    RepairPlan,
)
from repair.edit.paraphrases import template_paraphrases
from repair.edit.subjects import extract_subject, mentions, norm, overlap

# Words of the worked example in the surgeon's prompt: small models paste them into other plans.
_EXAMPLE_WORDS = {"capital", "france"}


@dataclass
class Surgeon:
    """Plans a repair. ``generate_fn`` maps OpenAI-style messages to the assistant's text; without
    it the deterministic planner is used.

    ``locked`` names plan settings that always come from ``defaults`` (for example
    ``{"alpha", "lam"}`` when the LLM's numbers are not to be trusted).
    """

    generate_fn: GenerateFn | None = None
    defaults: PlanDefaults = field(default_factory=PlanDefaults)
    max_retries: int = 1
    locked: frozenset[str] = frozenset()
    lock_on_injection: bool = True
    salvage_truncated: bool = True

    def plan(
        self,
        forget_prompt: str,
        forget_response: str = "",
        subject: str | None = None,
        *,
        n_layers: int | None = None,
    ) -> PlanResult:
        t0 = time.perf_counter()
        if not isinstance(forget_prompt, str) or not forget_prompt.strip():
            raise ValueError("forget_prompt must be a non-empty string")
        if len(forget_prompt) > MAX_FORGET_CHARS or len(forget_response) > MAX_FORGET_CHARS:
            raise ValueError(f"forget text longer than {MAX_FORGET_CHARS} characters")
        if n_layers is not None and n_layers < 1:
            raise ValueError("n_layers must be positive")
        given = (subject or "").strip() or None
        subject = given or extract_subject(forget_prompt) or extract_subject(forget_response)

        errors: list[str] = []
        raws: list[str] = []
        if self.generate_fn is not None:
            result = self._ask_llm(forget_prompt, forget_response, subject, given, n_layers, errors, raws)
            if result is not None:
                return result.model_copy(update={"latency_s": time.perf_counter() - t0})

        plan = deterministic_plan(
            forget_prompt, forget_response, subject=subject, n_layers=n_layers, defaults=self.defaults
        )
        return PlanResult(
            plan=plan,
            source="fallback",
            attempts=len(errors),
            errors=errors,
            raw_outputs=raws,
            latency_s=time.perf_counter() - t0,
        )

    def _ask_llm(
        self,
        forget_prompt: str,
        forget_response: str,
        subject: str | None,
        given: str | None,
        n_layers: int | None,
        errors: list[str],
        raws: list[str],
    ) -> PlanResult | None:
        """The first LLM answer that parses, sanitised; None when every attempt failed. Rejected
        answers are appended to ``errors`` and every raw reply to ``raws``."""
        assert self.generate_fn is not None
        messages = surgeon_messages(forget_prompt, forget_response, subject=subject, n_layers=n_layers)
        for attempt in range(1 + max(0, self.max_retries)):
            raw = ""
            try:
                out = self.generate_fn(messages)
                if not isinstance(out, str):
                    raise PlanError([f"generate_fn returned {type(out).__name__}, not str"])
                raw = out
                raws.append(raw)
                plan, salvaged = parse_reply(
                    raw, forget_prompt, forget_response, n_layers, self.salvage_truncated
                )
            except PlanError as err:
                errors.append(f"attempt {attempt + 1}: {err}")
                messages = messages + [
                    {"role": "assistant", "content": raw[:MAX_RAW_CHARS]},
                    surgeon_retry_message(err.errors),
                ]
                continue
            except Exception as err:  # a failing backend is one failed attempt, not a crash
                errors.append(f"attempt {attempt + 1}: generate_fn failed: {type(err).__name__}: {err}")
                continue
            plan, notes = self._sanitise(plan, subject, n_layers, subject_given=given is not None)
            if salvaged:
                notes.insert(0, "the reply was cut off; read up to its last complete element")
            return PlanResult(
                salvaged=salvaged,
                plan=plan,
                source="llm" if attempt == 0 else "llm-retry",
                attempts=attempt + 1,
                errors=errors,
                notes=notes,
                raw_outputs=raws,
            )
        return None

    def __post_init__(self) -> None:
        unknown = set(self.locked) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings in locked: {sorted(unknown)}; known: {list(SETTINGS)}")

    def _sanitise(
        self, plan: RepairPlan, subject: str | None, n_layers: int | None, *, subject_given: bool = False
    ) -> tuple[RepairPlan, list[str]]:
        """Apply the rules the schema cannot know: subject present in the text, paraphrases about
        the subject, settings locked by policy or by suspected injection."""
        notes: list[str] = []
        data = plan.model_dump()
        data["subject"] = _choose_subject(plan, data["subject"], subject, subject_given, notes)
        if plan.forget_response.strip() and overlap(plan.rationale, plan.forget_response) >= 0.8:
            data["rationale"] = ""  # a rationale that restates the answer would show what is forgotten
        # Paraphrases of the prompt are keyed on the subject only if the prompt names it.
        subj = data["subject"] if data["subject"] and mentions(plan.forget_prompt, data["subject"]) else None
        data["paraphrases"] = self._paraphrases(plan, data["paraphrases"], subj, notes)
        self._apply_locks(plan, data, subj, n_layers, notes)
        return validate_plan(data, n_layers=n_layers), notes

    def _paraphrases(
        self, plan: RepairPlan, proposed: list[str], subj: str | None, notes: list[str]
    ) -> list[str]:
        """The LLM's paraphrases that are about the forget prompt, topped up from the templates."""
        kept = [p for p in proposed if _keep_paraphrase(p, plan, subj, notes)]
        if len(kept) < self.defaults.n_paraphrases:
            extra = template_paraphrases(plan.forget_prompt, subj, n=MAX_PARAPHRASES)
            have = {norm(p) for p in kept}
            added = [p for p in extra if norm(p) not in have][: self.defaults.n_paraphrases - len(kept)]
            if added:
                notes.append(f"added {len(added)} template paraphrase(s)")
            kept += added
        return kept[:MAX_PARAPHRASES]

    def _apply_locks(
        self,
        plan: RepairPlan,
        data: dict[str, Any],
        subj: str | None,
        n_layers: int | None,
        notes: list[str],
    ) -> None:
        """Replace the locked settings in ``data`` by the defaults'; all of them on suspected injection."""
        locked = set(self.locked)
        if self.lock_on_injection and (
            looks_like_injection(plan.forget_prompt) or looks_like_injection(plan.forget_response)
        ):
            notes.append("forget text looks like it carries instructions; LLM settings replaced by defaults")
            locked |= set(SETTINGS)
        if not locked:
            return
        defaults = deterministic_plan(
            plan.forget_prompt,
            plan.forget_response,
            subject=subj,
            n_layers=n_layers,
            defaults=self.defaults,
        )
        for key in SETTINGS:
            if key in locked:
                data[key] = getattr(defaults, key)
        if data["method"] == "stamp-lr" and data["rank"] is None:
            data["rank"] = self.defaults.rank


def _choose_subject(
    plan: RepairPlan, llm_subject: str | None, subject: str | None, subject_given: bool, notes: list[str]
) -> str | None:
    """The caller's subject wins; else the LLM's if the prompt names it; else the heuristic's if
    the prompt names it; else the LLM's if the response names it; else the heuristic's."""
    text = f"{plan.forget_prompt}\n{plan.forget_response}"
    in_prompt = [s for s in (llm_subject, subject) if s and mentions(plan.forget_prompt, s)]
    if subject_given:
        chosen = subject
    elif in_prompt:
        chosen = in_prompt[0]
    elif llm_subject and mentions(text, llm_subject):
        chosen = llm_subject
    else:
        chosen = subject
    if llm_subject and chosen != llm_subject:
        notes.append(f"subject {llm_subject!r} replaced by {chosen!r}")
    return chosen


def _keep_paraphrase(p: str, plan: RepairPlan, subj: str | None, notes: list[str]) -> bool:
    """Whether an LLM paraphrase is kept; why not goes to ``notes`` (a copy of the prompt silently)."""
    text = f"{plan.forget_prompt}\n{plan.forget_response}"
    pair_words = set(norm(text).split())
    if "\n" in p or "<|" in p or "|>" in p:
        notes.append(f"dropped paraphrase with control text: {p[:60]!r}")
    elif norm(p) == norm(plan.forget_prompt):
        return False
    elif plan.forget_response.strip() and overlap(p, plan.forget_response) >= 0.8:
        # A copy of the answer is no paraphrase of the question.
        notes.append(f"dropped paraphrase that restates the response: {p[:60]!r}")
    elif (set(norm(p).split()) & _EXAMPLE_WORDS) - pair_words:
        notes.append(f"dropped paraphrase echoing the prompt's example: {p[:60]!r}")
    elif subj and not mentions(p, subj):
        notes.append(f"dropped paraphrase that does not name the subject: {p[:60]!r}")
    elif not subj and overlap(p, plan.forget_prompt) < 0.5:
        notes.append(f"dropped paraphrase that shares little with the prompt: {p[:60]!r}")
    else:
        return True
    return False
