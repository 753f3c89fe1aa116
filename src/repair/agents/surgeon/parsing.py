"""Reading model-written JSON into a plan: fenced or bare objects, replies cut off at the token
limit, and validation errors phrased so that they can be fed back to the LLM."""

from __future__ import annotations

import json
import re

from pydantic import ValidationError

from repair.agents.surgeon.schema import MAX_PARAPHRASES, MAX_RAW_CHARS, PlanError, RepairPlan

_CUT_OFF = "the JSON object is not closed (the reply was cut off): list at most 3 paraphrases and close it"
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json_object(text: str) -> dict:
    """The first JSON object in ``text`` (fenced or bare, with prose around it). Raises PlanError."""
    text = text[:MAX_RAW_CHARS]
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for chunk in candidates:
        for start in (i for i, ch in enumerate(chunk) if ch == "{"):
            try:
                obj, _ = decoder.raw_decode(chunk, start)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    if _unclosed_object(text):
        raise PlanError([_CUT_OFF])
    raise PlanError(["no JSON object found in the reply"])


def _scan(text: str) -> tuple[int, list[tuple[int, str]], bool]:
    """Walk the first object of ``text`` outside strings: its start, the commas at which it could be
    cut (with the brackets that would close it there), and whether it closes."""
    start = text.find("{")
    if start < 0:
        return -1, [], False
    stack: list[str] = []
    cuts: list[tuple[int, str]] = []
    in_str = esc = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return start, cuts, True  # malformed rather than cut off
            if not stack:
                return start, cuts, True
        elif ch == ",":
            cuts.append((i, "".join(reversed(stack))))
    return start, cuts, False


def _unclosed_object(text: str) -> bool:
    start, _, closed = _scan(text)
    return start >= 0 and not closed


def salvage_truncated_object(text: str) -> dict | None:
    """The object of a reply cut off at the token limit, up to its last complete element (small
    models tend to list paraphrases until the limit). None when the reply was not cut off."""
    text = text[:MAX_RAW_CHARS]
    start, cuts, closed = _scan(text)
    if start < 0 or closed:
        return None
    for pos, closers in reversed(cuts):
        try:
            obj = json.loads(text[start:pos] + closers)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _format_errors(err: ValidationError) -> list[str]:
    # Without the offending input: the errors are fed back to the LLM and logged.
    out = []
    for e in err.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in e["loc"]) or "plan"
        out.append(f"{loc}: {e['msg']}")
    return out


def validate_plan(data: dict, *, n_layers: int | None = None) -> RepairPlan:
    """Validate a plan dict against the schema and the patient's depth. Raises PlanError."""
    try:
        return RepairPlan.model_validate(data, context={"n_layers": n_layers})
    except ValidationError as err:
        raise PlanError(_format_errors(err)) from None


def parse_reply(
    raw: str, forget_prompt: str, forget_response: str, n_layers: int | None, salvage: bool
) -> tuple[RepairPlan, bool]:
    """The plan in ``raw`` and whether it was salvaged from a reply cut off at the token limit."""
    try:
        data, salvaged = extract_json_object(raw), False
    except PlanError:
        data = salvage_truncated_object(raw) if salvage else None
        if data is None:
            raise
        salvaged = True
        if isinstance(data.get("paraphrases"), list):
            # The list ran on until the cut; its length is an artefact of the token limit.
            data["paraphrases"] = data["paraphrases"][:MAX_PARAPHRASES]
    data["forget_prompt"] = forget_prompt
    data["forget_response"] = forget_response
    try:
        return validate_plan(data, n_layers=n_layers), salvaged
    except PlanError as err:
        if salvaged:
            raise PlanError([_CUT_OFF] + err.errors) from None
        raise


def parse_plan(
    raw: str,
    *,
    forget_prompt: str,
    forget_response: str,
    n_layers: int | None = None,
    salvage: bool = False,
) -> RepairPlan:
    """Parse raw LLM text into a plan. The forget pair is always the caller's, never the LLM's.
    With ``salvage``, a reply cut off at the token limit is read up to its last complete element."""
    return parse_reply(raw, forget_prompt, forget_response, n_layers, salvage)[0]
