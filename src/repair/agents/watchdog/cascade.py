"""`Watchdog`: the cascade of classifier, optional LLM extractor and rules."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from .chargram import CharGramModel
from .classifier import IntentClassifier
from .context import claims_answer, edits_a_draft, followup_target
from .history import _grounded, find_in_history, turn_pairs
from .lang import detect_language
from .llm import extractor_messages, parse_extraction
from .ranker import Candidate, TargetRanker
from .rules import Resolution, RuleExtractor, probe_prompts, subject_of_prompt
from .schema import Extraction, GenerateFn, ProbeFn, Verdict
from .signals import foreign_verb, plain_question, rule_request


# ----------------------------------------------------------------------------------------------------
# The watchdog
# ----------------------------------------------------------------------------------------------------
class Watchdog:
    """Classify the newest user message as chat/unlearn and extract what to forget.

    k: turns (user+assistant pairs) of history to look at. threshold: P(unlearn) at or above which the
    classifier says unlearn (default: the head's cross-validated value). band: (lo, hi) probabilities
    between which the classifier is "unsure"; the LLM extractor (if any) runs for every message with
    P >= lo. In the band, an LLM "chat" overrules the classifier's unlearn only with `llm_veto=True`, because the bundled
    Qwen2.5-Coder-0.5B answers "chat" for nearly every request (on the 42 held-out dialogues in the
    band it recognised 6 of 34 requests), so letting it veto would cost recall. The LLM's target is used only when it is
    grounded (it names something in the message or the history) and the rules found nothing better.
    An LLM "unlearn" turns the classifier's chat into unlearn only with `llm_rescue=True` (off by
    default: measured on dev2, the 0.5B model's rescues were all false positives).

    Other languages: MiniLM reads English only, so its P(unlearn) means nothing for a French turn.
    When `lingua-language-detector` is installed (`lang.detect_language`), a non-English turn with a
    forget/delete verb goes to the LLM too (whatever P says); the fr/de/es/it/pt/nl/pl/sv/tr rules decide
    the rest. Without an extractor, or without the detector, the fast path alone decides.

    Learned pieces (issue 21, measured leave-one-dev-set-out by `benchmarks/watchdog_loo.py`): a confident
    `CharGramModel` verdict is a request on its own (`chargram=False` turns it off), and `TargetRanker` may
    replace the rules' target by a history turn or a name in the message (`rerank=False` turns it off).
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
        llm_rescue: bool = False,
        rerank: bool = True,
        chargram: bool = True,
    ) -> None:
        self.k = k
        self.classifier = classifier or IntentClassifier(head_path)
        self.threshold = float(threshold if threshold is not None else self.classifier.threshold)
        self.band = band or tuple(self.classifier.head.get("band", (0.1, 0.9)))
        self.extractor = extractor
        self.probe_fn = probe_fn
        self.n_probes = n_probes
        self.llm_veto = llm_veto
        self.llm_rescue = llm_rescue
        self.rules = RuleExtractor()
        # the learned second opinion on the rules' target (ranker.py); off: the rules alone decide
        self.ranker = TargetRanker() if rerank else None
        # character n-grams read every language: a confident verdict is a request on its own (chargram.py)
        self.chargram = CharGramModel() if chargram else None

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
                return self.rules.resolve(
                    message, pairs, llm_target, None, self.probe_fn, self.n_probes
                ), "llm"
            if ext.turn is not None and (deictic or target is None):
                return self.rules.resolve(
                    message, pairs, llm_target, ext.turn, self.probe_fn, self.n_probes
                ), "llm"
        return self.rules.resolve(message, pairs, probe_fn=self.probe_fn, n_probes=self.n_probes), "rules"

    def _rerank(self, message: str, pairs: list[tuple[str, str]], res: Resolution) -> Resolution:
        """The ranker's pick among the rules' answer, each history turn and each name in the message."""
        if self.ranker is None:
            return res
        rule = Candidate("rule", res.target, tuple(i for i, p in enumerate(pairs) if p in res.pairs))
        pick = self.ranker.choose(message, pairs, rule)
        if pick is rule:
            return res
        if pick.turns:
            target = pick.target or subject_of_prompt(pairs[pick.turns[0]][0])
            return Resolution(target, "history", [pairs[i] for i in pick.turns], [])
        assert pick.target is not None  # a span always names something
        probes = probe_prompts(pick.target, self.n_probes)
        asked = [(q, self.probe_fn(q)) for q in probes] if self.probe_fn else []
        return Resolution(pick.target, "probe", asked, probes)

    def _wants_llm(self, p: float, lang: str | None, message: str) -> bool:
        """The unsure band, or a non-English turn with a forget/delete verb (MiniLM cannot read it)."""
        if self.extractor is None:
            return False
        lo = self.band[0]
        if lang not in (None, "en"):
            return foreign_verb(message)
        return p >= lo  # in the band it decides; above it, it may resolve the target ("about her")

    def inspect(self, history: list[dict], message: str) -> Verdict:
        t0 = time.perf_counter()
        pairs = turn_pairs(history, self.k)
        p = self.classifier.prob(message)
        lang = detect_language(message)
        lo, hi = self.band
        ext: Extraction | None = None
        llm_error: str | None = None
        llm_s = 0.0
        if self._wants_llm(p, lang, message):
            t = time.perf_counter()
            ext, llm_error = self._llm(pairs, message)
            llm_s = time.perf_counter() - t
        # High-precision rules beside the classifier: formal erasure requests, corrections, other languages.
        unlearn = (
            (p >= self.threshold and not plain_question(message))
            or rule_request(message, len(pairs))
            or followup_target(message, pairs) is not None  # the answer to "what should I forget?"
            or claims_answer(message, pairs)  # "c'est moi, ça ... effacer" after an answer about them
            or (
                self.chargram is not None and self.chargram.confident(message) and not plain_question(message)
            )
        )
        if unlearn and edits_a_draft(message, pairs) and self.rules.target_of(message)[1]:
            unlearn = False  # "bórralo" after "Escríbeme un poema": the poem goes, not knowledge
        llm_decided = False
        if ext is not None and p < hi:  # unsure band
            if (
                ext.intent == "unlearn"
                and not unlearn
                and self.llm_rescue
                and not message.rstrip().endswith("?")
            ):
                # off by default: on dev2 the 0.5B model rescued no request and turned two edits of a
                # text ("delete the word X from that bio") into requests; a question is never rescued
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
                lang=lang,
                llm_s=llm_s,
            )
        res, used = self._resolve(message, pairs, ext)
        res = self._rerank(message, pairs, res)
        first = res.pairs[0] if res.pairs else (None, None)
        return Verdict(
            intent="unlearn", confidence=max(p, 0.5) if llm_decided else p, target=res.target,
            forget_prompt=first[0], forget_response=first[1], pairs=res.pairs, source=res.source,
            probes=res.probes, latency_s=time.perf_counter() - t0, classifier_p=p, extractor=used,
            llm_error=llm_error, lang=lang, llm_s=llm_s,
        )  # fmt: skip
