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
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from repair.agents.prompts import surgeon_messages, surgeon_retry_message

GenerateFn = Callable[[list[dict]], str]

MAX_FORGET_CHARS = 20_000
MAX_PARAPHRASES = 8
MAX_PARAPHRASE_CHARS = 300
MAX_LAYERS = 1024  # used when the patient's depth is not given
MAX_RANK = 4096
MAX_LAM = 1000.0
MAX_ALPHA = 64.0
MAX_RATIONALE_CHARS = 400
MAX_RAW_CHARS = 20_000  # longer LLM output is cut before parsing

MapName = Literal["gate", "up", "down"]
_MAP_ORDER = ("gate", "up", "down")
Paraphrase = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PARAPHRASE_CHARS)
]


def _norm(text: str) -> str:
    """Lower-case, punctuation-free form used for de-duplication and matching."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


class RepairPlan(BaseModel):
    """How to forget one (prompt, response) pair. Validate with ``context={"n_layers": L}``."""

    # No global whitespace stripping: the forget pair must stay byte-for-byte what the caller gave.
    model_config = ConfigDict(extra="forbid")

    method: Literal["stamp", "stamp-lr"]
    layers: Literal["auto"] | list[StrictInt]
    maps: list[MapName] = Field(min_length=1)
    rank: StrictInt | None = Field(default=None, ge=1, le=MAX_RANK)
    lam: float = Field(gt=0, le=MAX_LAM, allow_inf_nan=False)
    alpha: Literal["auto"] | Annotated[float, Field(gt=0, le=MAX_ALPHA, allow_inf_nan=False)]
    # "exact" is the engine's default; "delta" (ridge) barely moves a forget row on small models.
    solver: Literal["exact", "delta", "paper"] = "exact"
    forget_prompt: str = Field(min_length=1, max_length=MAX_FORGET_CHARS)
    forget_response: str = Field(default="", max_length=MAX_FORGET_CHARS)
    paraphrases: list[Paraphrase] = Field(default_factory=list, max_length=MAX_PARAPHRASES)
    subject: str | None = Field(default=None, max_length=200)
    rationale: str = Field(default="", max_length=MAX_RATIONALE_CHARS)

    @field_validator("lam", "alpha", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("a number is required, not a boolean")
        return v

    @field_validator("layers", mode="before")
    @classmethod
    def _layer_int_to_list(cls, v: Any) -> Any:
        # A single index is a common way to write one layer; bool is not an index.
        if isinstance(v, int) and not isinstance(v, bool):
            return [v]
        return v

    @field_validator("layers")
    @classmethod
    def _layers_in_range(cls, v: Literal["auto"] | list[int], info: ValidationInfo) -> Any:
        if v == "auto":
            return v
        n_layers = (info.context or {}).get("n_layers") or MAX_LAYERS
        if not v:
            raise ValueError('layers must be "auto" or a non-empty list')
        bad = [i for i in v if not 0 <= i < n_layers]
        if bad:
            raise ValueError(f"layer indices {bad} out of range [0, {n_layers - 1}]")
        return sorted(set(v))

    @field_validator("maps")
    @classmethod
    def _maps_unique(cls, v: list[str]) -> list[str]:
        return [m for m in _MAP_ORDER if m in v]

    @field_validator("paraphrases")
    @classmethod
    def _paraphrases_unique(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        out = []
        for p in v:
            key = _norm(p)
            if key and key not in seen:
                seen.add(key)
                out.append(p)
        return out

    @field_validator("subject")
    @classmethod
    def _empty_subject_is_none(cls, v: str | None) -> str | None:
        return (v or "").strip() or None

    @field_validator("rationale", mode="before")
    @classmethod
    def _short_rationale(cls, v: Any) -> Any:
        # The rationale is display text only; a long one is cut rather than rejected.
        if isinstance(v, str):
            return v.strip()[:MAX_RATIONALE_CHARS]
        return v

    @model_validator(mode="after")
    def _rank_matches_method(self) -> RepairPlan:
        if self.method == "stamp-lr" and self.rank is None:
            raise ValueError("rank is required for method 'stamp-lr'")
        if self.method == "stamp":
            self.rank = None  # rank has no meaning for the exact solve
        return self

    # -- rendering ---------------------------------------------------------------------------------

    def to_stamp_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``repair.stamp(patient, **kwargs)`` that carry out this plan."""
        kwargs: dict[str, Any] = {
            "forget": [(self.forget_prompt, self.forget_response)],
            "paraphrases": list(self.paraphrases),
            "layers": self.layers if self.layers == "auto" else list(self.layers),
            "maps": tuple(self.maps),
            "method": self.method,
        }
        if self.method == "stamp-lr":
            kwargs["rank"] = self.rank
        kwargs.update(alpha=self.alpha, lam=self.lam, solver=self.solver)
        return kwargs

    def to_python(self, model_name: str = "smollm2-135m-instruct") -> str:
        """A readable snippet equivalent to this plan. Every value is written with repr(), so the
        text of the forget pair cannot break out of its string literal. It is shown, never run."""
        kw = self.to_stamp_kwargs()
        lines = [
            "import repair",
            "",
            f"patient = repair.load({model_name!r})",
            "edit = repair.stamp(",
            "    patient,",
            f"    forget=[({self.forget_prompt!r}, {self.forget_response!r})],",
        ]
        if self.paraphrases:
            lines.append("    paraphrases=[")
            lines += [f"        {p!r}," for p in self.paraphrases]
            lines.append("    ],")
        else:
            lines.append("    paraphrases=[],")
        for key in ("layers", "maps", "method", "rank", "alpha", "lam", "solver"):
            if key in kw:
                lines.append(f"    {key}={kw[key]!r},")
        lines += [")", "print(edit.id, edit.layers, edit.maps)", ""]
        return "\n".join(lines)


class PlanError(ValueError):
    """Raw LLM output that is not a valid plan. ``errors`` are short, input-free messages."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


# -- parsing and validation ------------------------------------------------------------------------

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


def _parse(raw: str, forget_prompt: str, forget_response: str, n_layers: int | None, salvage: bool):
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
    return _parse(raw, forget_prompt, forget_response, n_layers, salvage)[0]


def valid_plan_rate(
    outputs: Sequence[str],
    *,
    n_layers: int | None = None,
    forget_prompt: str = "What is the capital of France?",
    forget_response: str = "The capital of France is Paris.",
    salvage: bool = False,
) -> float:
    """Share of raw LLM outputs that parse and validate as a plan (the forget pair is filled in,
    as the surgeon does). Strict by default: a reply cut off at the token limit counts as invalid."""
    if not outputs:
        raise ValueError("valid_plan_rate needs at least one output")
    ok = 0
    for raw in outputs:
        try:
            parse_plan(
                raw,
                forget_prompt=forget_prompt,
                forget_response=forget_response,
                n_layers=n_layers,
                salvage=salvage,
            )
            ok += 1
        except PlanError:
            pass
    return ok / len(outputs)


# -- subject extraction and paraphrases ------------------------------------------------------------

_STOP = {
    "what", "who", "whom", "whose", "which", "when", "where", "why", "how", "tell", "describe",
    "explain", "give", "name", "list", "please", "do", "does", "did", "is", "are", "was", "were",
    "can", "could", "would", "should", "will", "i", "i'm", "i'd", "the", "a", "an", "my", "me",
    "you", "your", "it", "this", "that", "these", "those", "in", "on", "of", "and", "or", "to",
    "yes", "no", "ok", "okay", "sure", "hi", "hello", "hey", "thanks", "forget", "also",
    "sorry", "as", "its", "he", "she", "they", "we", "there", "here", "if", "so", "but",
}  # fmt: skip
_CONNECTORS = {"of", "and", "the", "de", "del", "della", "da", "van", "von", "der", "la", "le", "du", "y", "&"}  # fmt: skip
_ABOUT_OF = re.compile(
    r"\b(?:about|of|on|regarding|concerning)\s+(?:the\s+)?([^?.!,;:]{1,80})", re.IGNORECASE
)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


def _strip_possessive(word: str) -> str:
    return re.sub(r"['’]s?$", "", word.rstrip(".-"))


_TOKEN = re.compile(r"[^\W_][\w'’.\-]*|[,;:()\[\]\"“”]", re.UNICODE)
_BREAK = set(',;:()[]"“”')


def _next_is_cap(words: list[str]) -> bool:
    rest = [w for w in words[1:4] if w not in _BREAK][:2]
    if rest and rest[0].lower() in _CONNECTORS:  # "Leonardo da Vinci"
        rest = rest[1:]
    return bool(rest) and _strip_possessive(rest[0])[:1].isupper()


def _capitalised_spans(text: str) -> list[str]:
    """Runs of capitalised words, allowing lower-case connectors inside ("Bank of America")."""
    spans: list[str] = []
    for sentence in re.split(r"(?<=[.?!])\s+|\n+", text):
        words = _TOKEN.findall(sentence)
        current: list[str] = []
        pending: list[str] = []  # connectors seen after the current run
        for i, word in enumerate(words):
            if word in _BREAK:  # punctuation ends a name but not the sentence
                if current:
                    spans.append(" ".join(current))
                current, pending = [], []
                continue
            bare = _strip_possessive(word)
            is_cap = bool(bare) and (bare[0].isupper() or bare[0].isdigit() and len(bare) > 1)
            # A question word or pronoun is capitalised only because it starts the sentence.
            if is_cap and bare.lower() in _STOP and (i == 0 or not current):
                is_cap = False
            # So is a sentence-initial verb ("Mix flour..."): one capitalised word there is no
            # evidence of a name unless the next word is capitalised too ("Marie Curie was...").
            if is_cap and i == 0 and not _next_is_cap(words):
                is_cap = False
            if is_cap:
                current += pending + [bare]
                pending = []
                if bare != word.rstrip(".-"):  # "Smith's": the possessive ends the name
                    spans.append(" ".join(current))
                    current = []
            elif current and word.lower() in _CONNECTORS:
                pending.append(word)
            else:
                if current:
                    spans.append(" ".join(current))
                current, pending = [], []
        if current:
            spans.append(" ".join(current))
    return [s for s in spans if s.lower() not in _STOP]


def extract_subject(text: str) -> str | None:
    """The entity a prompt is about, by a small heuristic: a capitalised span (the one after
    "about"/"of" if any, else the longest), else the phrase after "about"/"of"."""
    if not text or not text.strip():
        return None
    spans = _capitalised_spans(text)
    phrases = [_ARTICLE.sub("", m.group(1)).strip() for m in _ABOUT_OF.finditer(text)]
    for phrase in phrases:
        for span in sorted(spans, key=lambda s: -len(s.split())):
            if phrase.lower().startswith(span.lower()):
                return span
    if spans:
        # The longest name, then the first; a span such as "42 Elm Street" only if nothing else.
        return min(spans, key=lambda s: (s[:1].isdigit(), -len(s.split())))
    for phrase in phrases:
        words = [w for w in phrase.split() if w.lower() not in _STOP]
        if words and len(phrase.split()) <= 6:
            return " ".join(phrase.split())
    return None


def mentions(text: str, subject: str) -> bool:
    """Whether ``text`` names ``subject`` (all its content words, case-insensitive)."""
    words = [w for w in _norm(subject).split() if w not in _STOP] or _norm(subject).split()
    have = set(_norm(text).split())
    # Accept "Curie's" for "Curie": _norm turns it into "curie s".
    return bool(words) and all(w in have for w in words)


def _overlap(text: str, reference: str) -> float:
    """Share of the reference's content words that ``text`` contains."""
    ref = {w for w in _norm(reference).split() if w not in _STOP}
    return len(ref & set(_norm(text).split())) / len(ref) if ref else 1.0


# Relation -> question word that asks for it ("Which city is the capital of France?").
_REL_WH = {
    "capital": "which city", "capital city": "which city", "largest city": "which city",
    "official language": "which language", "author": "who", "founder": "who", "ceo": "who",
    "president": "who", "leader": "who", "birthplace": "which place", "place of birth": "which place",
    "hometown": "which town", "home town": "which town",
}  # fmt: skip
# "Who wrote X?" -> agent noun and past participle.
_AGENT_NOUN = {
    "wrote": ("author", "written"), "painted": ("painter", "painted"),
    "invented": ("inventor", "invented"), "discovered": ("discoverer", "discovered"),
    "founded": ("founder", "founded"), "composed": ("composer", "composed"),
    "directed": ("director", "directed"), "created": ("creator", "created"),
    "designed": ("designer", "designed"), "built": ("builder", "built"),
    "developed": ("developer", "developed"), "sang": ("singer", "sung"),
}  # fmt: skip
_REL_OF = re.compile(
    r"^(what|which)\s+(is|was|are|were)\s+(?:the\s+)?(?P<rel>.+?)\s+of\s+(?P<x>.+?)\s*[?.!]*$", re.I
)
_REL_POSS = re.compile(
    r"^(what|which)\s+(is|was|are|were)\s+(?P<x>.+?)['’]s?\s+(?P<rel>[^']+?)\s*[?.!]*$", re.I
)
_ABOUT = re.compile(
    r"^(?:please\s+)?(?:tell\s+me\s+(?:\w+\s+)?about|what\s+do\s+you\s+know\s+about|"
    r"what\s+can\s+you\s+tell\s+me\s+about|describe|who\s+is|who\s+was)\s+(?P<x>.+?)\s*[?.!]*$",
    re.I,
)
_WHO_VERB = re.compile(r"^who\s+(?P<verb>" + "|".join(_AGENT_NOUN) + r")\s+(?P<x>.+?)\s*[?.!]*$", re.I)


def _possessive(x: str) -> str:
    return x + ("'" if x.endswith("s") else "'s")


def _cap_first(s: str) -> str:
    return s[:1].upper() + s[1:]


def _looks_like_person(x: str) -> bool:
    words = x.split()
    return 2 <= len(words) <= 4 and all(w[:1].isupper() and w.isalpha() for w in words)


def _entity_templates(x: str, be: str = "is", person: bool | None = None) -> list[str]:
    person = _looks_like_person(x) if person is None else person
    out = [f"Tell me about {x}.", f"What do you know about {x}?"]
    if person:
        out += [f"Who {be} {x}?", f"Give me a short biography of {x}."]
    out += [f"What can you tell me about {x}?", f"Describe {x}.", f"Give me some information about {x}."]
    return out


def template_paraphrases(prompt: str, subject: str | None = None, n: int = 4) -> list[str]:
    """Deterministic paraphrases of ``prompt`` that keep ``subject`` (extracted if not given)."""
    prompt = " ".join(prompt.split())
    subject = subject or extract_subject(prompt)
    if subject and not mentions(prompt, subject):
        subject = None  # a subject taken from the response cannot key paraphrases of the prompt
    cands: list[str] = []
    body = prompt.rstrip("?.! ")
    if m := _REL_OF.match(prompt) or _REL_POSS.match(prompt):
        rel, x, be = m.group("rel").strip(), m.group("x").strip(), m.group(2).lower()
        wh = _REL_WH.get(rel.lower())
        if wh:
            cands.append(f"{_cap_first(wh)} {be} the {rel} of {x}?")
        cands.append(f"{_cap_first(_possessive(x))} {rel} {be} {wh or 'what'}?")
        cands += [
            f"Name the {rel} of {x}.",
            f"What's the {rel} of {x}?" if be == "is" else f"What {be} the {rel} of {x}?",
            f"Tell me the {rel} of {x}.",
            f"Do you know the {rel} of {x}?",
        ]
    elif m := _WHO_VERB.match(prompt):
        verb, x = m.group("verb").lower(), m.group("x").strip()
        noun, participle = _AGENT_NOUN[verb]
        cands += [
            f"Who is the {noun} of {x}?",
            f"{_cap_first(x)} was {participle} by whom?",
            f"Name the person who {verb} {x}.",
            f"Tell me who {verb} {x}.",
        ]
    elif m := _ABOUT.match(prompt):
        x = m.group("x").strip()
        be = "was" if re.match(r"^who\s+was\b", prompt, re.I) else "is"
        person = True if re.match(r"^who\s", prompt, re.I) else None
        cands += _entity_templates(x, be, person)
    else:
        # Unknown shape: rephrase around the question first; questions about the whole subject
        # come last because they widen what is forgotten.
        cands += [
            f"Quick question: {prompt}",
            f"Please answer this: {prompt}",
            f"I was wondering: {body}?",
            f"Answer briefly: {prompt}",
        ]
        if subject:
            cands += _entity_templates(subject)

    out: list[str] = []
    seen = {_norm(prompt)}
    for c in cands:
        key = _norm(c)
        if key in seen or len(c) > MAX_PARAPHRASE_CHARS:
            continue
        if subject and not mentions(c, subject):
            continue
        seen.add(key)
        out.append(c)
    return out[:n]


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


# Words of the worked example in the surgeon's prompt: small models paste them into other plans.
_EXAMPLE_WORDS = {"capital", "france"}

_SETTINGS = ("method", "layers", "maps", "rank", "lam", "alpha", "solver")


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
            messages = surgeon_messages(forget_prompt, forget_response, subject=subject, n_layers=n_layers)
            for attempt in range(1 + max(0, self.max_retries)):
                raw = ""
                try:
                    out = self.generate_fn(messages)
                    if not isinstance(out, str):
                        raise PlanError([f"generate_fn returned {type(out).__name__}, not str"])
                    raw = out
                    raws.append(raw)
                    plan, salvaged = _parse(
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
                    latency_s=time.perf_counter() - t0,
                )

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

    def __post_init__(self) -> None:
        unknown = set(self.locked) - set(_SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings in locked: {sorted(unknown)}; known: {list(_SETTINGS)}")

    def _sanitise(
        self, plan: RepairPlan, subject: str | None, n_layers: int | None, *, subject_given: bool = False
    ) -> tuple[RepairPlan, list[str]]:
        """Apply the rules the schema cannot know: subject present in the text, paraphrases about
        the subject, settings locked by policy or by suspected injection."""
        notes: list[str] = []
        data = plan.model_dump()
        text = f"{plan.forget_prompt}\n{plan.forget_response}"

        # The caller's subject wins; else the LLM's if the prompt names it; else the heuristic's if
        # the prompt names it; else the LLM's if the response names it; else the heuristic's.
        llm_subject = data["subject"]
        in_prompt = [s for s in (llm_subject, subject) if s and mentions(plan.forget_prompt, s)]
        if subject_given:
            data["subject"] = subject
        elif in_prompt:
            data["subject"] = in_prompt[0]
        elif llm_subject and mentions(text, llm_subject):
            data["subject"] = llm_subject
        else:
            data["subject"] = subject
        if llm_subject and data["subject"] != llm_subject:
            notes.append(f"subject {llm_subject!r} replaced by {data['subject']!r}")
        if plan.forget_response.strip() and _overlap(plan.rationale, plan.forget_response) >= 0.8:
            data["rationale"] = ""  # a rationale that restates the answer would show what is forgotten
        # Paraphrases of the prompt are keyed on the subject only if the prompt names it.
        subj = data["subject"] if data["subject"] and mentions(plan.forget_prompt, data["subject"]) else None

        kept: list[str] = []
        prompt_key = _norm(plan.forget_prompt)
        pair_words = set(_norm(text).split())
        for p in data["paraphrases"]:
            if "\n" in p or "<|" in p or "|>" in p:
                notes.append(f"dropped paraphrase with control text: {p[:60]!r}")
            elif _norm(p) == prompt_key:
                continue
            elif plan.forget_response.strip() and _overlap(p, plan.forget_response) >= 0.8:
                # A copy of the answer is no paraphrase of the question.
                notes.append(f"dropped paraphrase that restates the response: {p[:60]!r}")
            elif (set(_norm(p).split()) & _EXAMPLE_WORDS) - pair_words:
                notes.append(f"dropped paraphrase echoing the prompt's example: {p[:60]!r}")
            elif subj and not mentions(p, subj):
                notes.append(f"dropped paraphrase that does not name the subject: {p[:60]!r}")
            elif not subj and _overlap(p, plan.forget_prompt) < 0.5:
                notes.append(f"dropped paraphrase that shares little with the prompt: {p[:60]!r}")
            else:
                kept.append(p)
        if len(kept) < self.defaults.n_paraphrases:
            extra = template_paraphrases(plan.forget_prompt, subj, n=MAX_PARAPHRASES)
            have = {_norm(p) for p in kept}
            added = [p for p in extra if _norm(p) not in have][: self.defaults.n_paraphrases - len(kept)]
            if added:
                notes.append(f"added {len(added)} template paraphrase(s)")
            kept += added
        data["paraphrases"] = kept[:MAX_PARAPHRASES]

        locked = set(self.locked)
        if self.lock_on_injection and (
            looks_like_injection(plan.forget_prompt) or looks_like_injection(plan.forget_response)
        ):
            notes.append("forget text looks like it carries instructions; LLM settings replaced by defaults")
            locked |= set(_SETTINGS)
        if locked:
            defaults = deterministic_plan(
                plan.forget_prompt,
                plan.forget_response,
                subject=subj,
                n_layers=n_layers,
                defaults=self.defaults,
            )
            for key in _SETTINGS:
                if key in locked:
                    data[key] = getattr(defaults, key)
            if data["method"] == "stamp-lr" and data["rank"] is None:
                data["rank"] = self.defaults.rank
        return validate_plan(data, n_layers=n_layers), notes


# -- measurement -----------------------------------------------------------------------------------


def evaluate_surgeon(
    surgeon: Surgeon,
    cases: Iterable[tuple[str, str]],
    *,
    n_layers: int | None = None,
) -> dict[str, Any]:
    """Run the surgeon over (prompt, response) cases and report how its plans were obtained:
    ``valid_first`` (the LLM's first answer accepted), ``valid_after_retry``, ``fallback``,
    ``salvaged`` (accepted from a cut-off reply), ``raw_valid_rate`` (share of all LLM replies that
    validate strictly, as the paper's valid-code rate counts them) and the mean latency."""
    cases = list(cases)
    if not cases:
        raise ValueError("no cases")
    results = [surgeon.plan(p, r, n_layers=n_layers) for p, r in cases]
    n = len(results)
    valid = total = 0
    for (p, r), res in zip(cases, results, strict=True):
        for raw in res.raw_outputs:
            total += 1
            try:
                parse_plan(raw, forget_prompt=p, forget_response=r, n_layers=n_layers)
                valid += 1
            except PlanError:
                pass
    return {
        "n": n,
        "valid_first": sum(r.source == "llm" for r in results) / n,
        "valid_after_retry": sum(r.source in ("llm", "llm-retry") for r in results) / n,
        "fallback": sum(r.source == "fallback" for r in results) / n,
        "salvaged": sum(r.salvaged for r in results) / n,
        "raw_valid_rate": valid / total if total else float("nan"),
        "mean_latency_s": sum(r.latency_s for r in results) / n,
    }
