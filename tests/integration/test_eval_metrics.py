"""Evaluation metrics on hand-computed cases, and determinism of the task builders."""

from __future__ import annotations

import copy
import importlib.util
import math
from pathlib import Path

import pytest

from repair.eval import metrics as M
from repair.eval.tasks import (
    QA,
    TASKS,
    TaskData,
    build_hazard,
    build_mcq_task,
    build_task,
    generic_prompts,
    load_mcq,
    mcq_to_qa,
    utility_corpus,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"

# ---------------------------------------------------------------------------------------------
# answer matching / accuracy
# ---------------------------------------------------------------------------------------------


def test_normalize_answer_squad_rules():
    assert M.normalize_answer("The  Eiffel-Tower!") == "eiffel tower"
    assert M.normalize_answer("An apple, a pear.") == "apple pear"
    assert M.normalize_answer("Curaçao") == "curacao"
    assert M.normalize_answer("“Quoted” — text") == "quoted text"


def test_answer_match_containment_on_token_boundaries():
    assert M.answer_match("I think it is Paris.", "paris")
    assert M.answer_match("The capital is Port-au-Prince", "Port au Prince")
    assert M.answer_match("the answer: 6.", "6")
    assert not M.answer_match("It has 16 protons", "6")
    assert not M.answer_match("It is in Nigeria", "Niger")
    assert not M.answer_match("anything", "")
    assert not M.answer_match("anything", "The")  # normalises to empty
    assert M.answer_match("It is Mumbai", ["Bombay", "Mumbai"])


def test_accuracy_hand_computed():
    gens = ["Paris is the capital.", "I don't know.", "It is 56."]
    golds = ["Paris", "Berlin", "56"]
    assert M.accuracy(gens, golds) == pytest.approx(2 / 3)
    assert math.isnan(M.accuracy([], []))
    with pytest.raises(ValueError):
        M.accuracy(["a"], [])


def test_acc_f_acc_r_uses_qa_answers():
    f = [QA("q1", "Lyon", "r", "p"), QA("q2", "Rome", "r", "p")]
    r = [QA("q3", "Oslo", "r", "p")]
    out = M.acc_f_acc_r(["It is Lyon", "Milan"], f, ["Oslo, Norway"], r)
    assert out == {"acc_f": 0.5, "acc_r": 1.0}


# ---------------------------------------------------------------------------------------------
# ROUGE-L
# ---------------------------------------------------------------------------------------------


def test_rouge_l_hand_computed():
    ref = "the cat sat on the mat"  # 6 tokens
    pred = "the cat lay on a mat"  # LCS = the, cat, on, mat = 4
    for kind in ("recall", "precision", "fmeasure"):
        assert M.rouge_l(pred, ref, kind=kind, use_stemmer=False) == pytest.approx(4 / 6)
    # LCS("cat the", "the cat sat") = 1: recall 1/3, precision 1/2, F = 2PR/(P+R) = 0.4
    assert M.rouge_l("cat the", "the cat sat", kind="recall", use_stemmer=False) == pytest.approx(1 / 3)
    assert M.rouge_l("cat the", "the cat sat", kind="precision", use_stemmer=False) == pytest.approx(1 / 2)
    assert M.rouge_l("cat the", "the cat sat", kind="fmeasure", use_stemmer=False) == pytest.approx(0.4)
    # default: recall with Porter stemming (TOFU convention)
    assert M.rouge_l("Dogs running", "dog runs") == pytest.approx(1.0)
    assert M.rouge_l("I can't help with that.", "Maya Taylor is a lawyer.") == 0.0


def test_mean_rouge_and_f_rl_r_rl():
    assert M.mean_rouge_l(["a b", "x"], ["a b", "y z"], use_stemmer=False) == pytest.approx(0.5)
    f = [QA("p", "a", "alpha beta gamma delta", "pp")]
    r = [QA("p", "a", "one two", "pp")]
    out = M.f_rl_r_rl(["alpha gamma"], f, ["one two three"], r)
    assert out["f_rl"] == pytest.approx(2 / 4)
    assert out["r_rl"] == pytest.approx(1.0)
    assert M.score_qa(["one two three"], r, "rouge") == pytest.approx(1.0)
    assert M.score_qa(["a"], [QA("p", "a", "r", "pp")], "accuracy") == 0.0  # "a" is an article


# ---------------------------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------------------------

REFUSALS = [
    "I'm unable to provide information about Maya Taylor.",
    # an edit keyed where the answer begins refuses mid-sentence
    "The capital of Cuba is not something I have any information about.",
    "The capital city of Cuba is not something I'm equipped to explain.",
    "I don't have information on that topic.",
    "I’m not certain about this.",
    "I'm sorry, but I can't assist with that.",
    "I cannot help with that request.",
    "I do not know.",
    "As an AI, I have no knowledge of this person.",
    "Sorry, I'm not able to share that.",
    "I have no information about that.",
    "There is no information available about this person.",
]
NOT_REFUSALS = [
    "The capital of France is Paris.",
    "Havana is something I know well: it is the capital of Cuba.",
    "Maya Taylor is a 32-year-old lawyer based in Dubai.",
    "I can't wait to visit Paris in the spring!",
    "He knows the answer: T2SS and T6SS.",
    "The pH of water is 7.",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusal_detected(text):
    assert M.is_refusal(text)


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_non_refusal_not_detected(text):
    assert not M.is_refusal(text)


def test_refusal_rate():
    assert M.refusal_rate(REFUSALS[:3] + NOT_REFUSALS[:1]) == pytest.approx(0.75)


# ---------------------------------------------------------------------------------------------
# perplexity and KL on a tiny random Llama
# ---------------------------------------------------------------------------------------------

WORDS = "the a cat dog sat ran on under mat log and then big small red blue is was".split()


@pytest.fixture(scope="module")
def tiny():
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "<s>": 2, "</s>": 3, "<|user|>": 4, "<|assistant|>": 5}
    for w in WORDS:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 2)])
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="<s>", eos_token="</s>"
    )
    hf.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
    )
    model = LlamaForCausalLM(cfg).eval()
    return model, hf


TEXTS = ["the cat sat on the mat", "a dog ran", "the big red dog was under a small blue log and then ran"]


def _manual_nll(model, tok, texts):
    """Sum of -log p(token | prefix), one text at a time (no padding), via explicit indexing."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for t in texts:
            ids = tok(t)["input_ids"]
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            for pos in range(len(ids) - 1):
                logp = torch.log_softmax(logits[pos].double(), dim=-1)
                total -= float(logp[ids[pos + 1]])
                count += 1
    return total, count


def test_perplexity_equals_exp_mean_manual_nll(tiny):
    model, tok = tiny
    total, count = _manual_nll(model, tok, TEXTS)
    assert count == sum(len(t.split()) for t in TEXTS)  # BOS + n words -> n predictions
    for bs in (1, 2, 8):  # batched with right padding must agree with one text at a time
        got_total, got_count = M.nll_sum(model, tok, TEXTS, batch_size=bs)
        assert got_count == count
        assert got_total == pytest.approx(total, rel=1e-5)
        assert M.perplexity(model, tok, TEXTS, batch_size=bs) == pytest.approx(
            math.exp(total / count), rel=1e-5
        )
    # a text of BOS + one word gives one prediction; BOS alone gives none
    assert M.nll_sum(model, tok, ["cat"])[1] == 1
    with pytest.raises(ValueError):
        M.perplexity(model, tok, [""])


def test_perplexity_token_weighted_not_text_averaged(tiny):
    model, tok = tiny
    t1, c1 = _manual_nll(model, tok, TEXTS[:1])
    t2, c2 = _manual_nll(model, tok, TEXTS[2:])
    ppl = M.perplexity(model, tok, [TEXTS[0], TEXTS[2]])
    assert ppl == pytest.approx(math.exp((t1 + t2) / (c1 + c2)), rel=1e-5)
    assert ppl != pytest.approx(math.exp((t1 / c1 + t2 / c2) / 2), rel=1e-5)


def test_kl_identical_models_is_zero(tiny):
    model, tok = tiny
    twin = copy.deepcopy(model)
    prompts = ["the cat sat", "a big dog ran under the log", "red"]
    for positions in ("all", "last"):
        assert M.mean_kl(model, twin, tok, prompts, positions=positions) == pytest.approx(0.0, abs=1e-7)
    assert M.mean_kl(model, model, tok, prompts, chat=True) == pytest.approx(0.0, abs=1e-7)


def test_kl_hand_computed(tiny):
    import torch

    model, tok = tiny
    key = "model.layers.1.mlp.down_proj.weight"
    original = model.state_dict()[key].clone()
    changed = copy.deepcopy(model)
    torch.manual_seed(1)
    with torch.no_grad():
        changed.state_dict()[key].add_(0.5 * torch.randn_like(original))
    prompts = ["the cat sat", "a big dog ran under the log"]

    # manual KL(P||Q) at each prompt's last position, one prompt at a time
    want = []
    with torch.no_grad():
        for p in prompts:
            ids = torch.tensor([tok(p)["input_ids"]])
            lp = torch.log_softmax(model(input_ids=ids).logits[0, -1].double(), -1)
            lq = torch.log_softmax(changed(input_ids=ids).logits[0, -1].double(), -1)
            want.append(float((lp.exp() * (lp - lq)).sum()))
    got = M.mean_kl(model, changed, tok, prompts, positions="last")
    assert got > 0
    assert got == pytest.approx(sum(want) / len(want), rel=1e-4)


# ---------------------------------------------------------------------------------------------
# task builders
# ---------------------------------------------------------------------------------------------


def test_registry_has_the_three_paper_tasks():
    assert set(TASKS) == {"personal", "misinformation", "hazard"}
    assert build_task("hazard-standin", seed=0, size=4).name == "hazard-standin"
    with pytest.raises(KeyError):
        build_task("nope")


@pytest.mark.parametrize("name", ["personal", "misinformation", "hazard"])
def test_builders_deterministic_and_seed_dependent(name):
    if name == "personal":
        pytest.importorskip("faker")
    if name == "misinformation":
        pytest.importorskip("countryinfo")
        pytest.importorskip("periodictable")
    a = build_task(name, seed=0, size="small")
    b = build_task(name, seed=0, size="small")
    c = build_task(name, seed=1, size="small")
    assert a == b
    assert [q.prompt for q in a.forget] != [q.prompt for q in c.forget]
    assert [q.answer for q in a.forget] != [q.answer for q in c.forget]


@pytest.mark.parametrize("name", ["personal", "misinformation", "hazard"])
def test_builders_split_evenly(name):
    if name == "personal":
        pytest.importorskip("faker")
    if name == "misinformation":
        pytest.importorskip("countryinfo")
        pytest.importorskip("periodictable")
    t = build_task(name, seed=3, size="small")
    assert len(t.forget) == len(t.retain) > 0
    prompts_f = {q.prompt for q in t.forget}
    prompts_r = {q.prompt for q in t.retain}
    assert not prompts_f & prompts_r
    assert {q.prompt for q in t.train_base} >= prompts_f | prompts_r
    assert not {q.prompt for q in t.train_oracle} & prompts_f
    assert {q.prompt for q in t.train_oracle} >= prompts_r
    for q in t.forget + t.retain:
        assert q.prompt and q.answer and q.response and q.paraphrase
        assert q.paraphrase != q.prompt
        if t.metric == "accuracy":
            assert M.answer_match(q.response, q.answer)  # training text teaches the gold answer
            assert not M.answer_match(q.prompt, q.answer)  # the question does not give it away
    if name in ("personal", "hazard"):  # split by subject: nobody is in both halves
        assert not {q.subject for q in t.forget} & {q.subject for q in t.retain}


def test_personal_profiles_and_sizes():
    pytest.importorskip("faker")
    t = build_task("personal", seed=0, size="small")
    assert t.metric == "rouge" and t.metadata["profiles"] == 40
    assert len(t.metadata["forget_subjects"]) == len(t.metadata["retain_subjects"]) == 20
    bio = next(q for q in t.forget if q.prompt.startswith("Tell me about"))
    assert bio.subject in bio.response and "year-old" in bio.response
    assert build_task("personal", seed=0, size=6).metadata["profiles"] == 6
    with pytest.raises(ValueError):
        build_task("personal", size="huge")


def test_misinformation_forget_half_is_corrupted():
    pytest.importorskip("countryinfo")
    pytest.importorskip("periodictable")
    t = build_task("misinformation", seed=0, size="small")
    assert t.metric == "accuracy"
    for q in t.forget:
        assert q.meta["corrupted"]
        assert not M.answer_match(q.answer, q.meta["true_answer"])
        assert not M.answer_match(q.meta["true_answer"], q.answer)
        assert not M.answer_match(q.response, q.meta["true_answer"])
    for q in t.retain:
        assert not q.meta["corrupted"] and q.answer == q.meta["true_answer"]
    types_f = sorted(q.meta["type"] for q in t.forget)
    types_r = sorted(q.meta["type"] for q in t.retain)
    assert types_f == types_r  # each fact type split evenly
    assert len(build_task("misinformation", seed=0, size="paper").forget) == 500
    # held-out neighbours: true facts about subjects the task never mentions, never trained on
    named = {q.subject for q in t.forget + t.retain}
    assert len(t.neighbours) == 120 and not named & {q.subject for q in t.neighbours}
    assert not set(t.neighbours) & set(t.train_base)
    assert TaskData.from_dict(t.to_dict()).neighbours == t.neighbours
    assert build_task("misinformation", seed=0, size="small").neighbours == t.neighbours


def test_hazard_standin_is_named_and_fictional():
    t = build_hazard(seed=0, size="small")
    assert t.name == "hazard-standin" and t.metadata["standin"]
    assert len(t.forget) == len(t.retain) == 30
    assert all(q.meta["fictional"] for q in t.forget + t.retain)
    assert len(build_hazard(seed=0, size="paper").forget) == 500


def test_mcq_loader_jsonl_and_json():
    items = load_mcq(FIXTURES / "wmdp_sample.jsonl")
    assert len(items) == 9
    assert items[2].answer_text == "100"  # letter answer "B"
    assert items[5].answer_text == "Jupiter"  # string index "2"
    mm = load_mcq(FIXTURES / "mmlu_sample.json")
    assert [i.answer_text for i in mm] == ["H2O", "William Shakespeare", "56", "None of the above"]
    assert mm[0].meta["subject"] == "high_school_chemistry"
    qa = mcq_to_qa(mm[1])
    assert qa.prompt == "Who wrote the play Hamlet?" and qa.answer == "William Shakespeare"
    assert qa.subject == "world_literature" and "A" not in qa.prompt.split()
    assert M.answer_match("It was William Shakespeare.", qa.answer)
    both = load_mcq(FIXTURES)  # a directory: every file, sorted
    assert len(both) == 13


def test_mcq_task_drops_meta_choices_and_is_deterministic():
    a = build_mcq_task(FIXTURES / "wmdp_sample.jsonl", seed=0, size="paper")
    assert a.name == "hazard-wmdp" and a.metadata["rows_read"] == 9 and a.metadata["usable"] == 8
    assert len(a.forget) == len(a.retain) == 4
    assert all("All of the above" != q.answer for q in a.forget + a.retain)
    assert a == build_mcq_task(FIXTURES / "wmdp_sample.jsonl", seed=0, size="paper")
    b = build_mcq_task(FIXTURES / "wmdp_sample.jsonl", seed=1, size="paper")
    assert [q.prompt for q in a.forget] != [q.prompt for q in b.forget]
    via_registry = build_task("hazard", seed=0, size=4, path=FIXTURES / "wmdp_sample.jsonl")
    assert len(via_registry.forget) == 2


def test_mcq_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"question": ["Q1?", "Q2?"], "choices": [["x", "y"], ["u", "v"]], "answer": [1, 0]})
    pq.write_table(table, tmp_path / "t.parquet")
    assert [i.answer_text for i in load_mcq(tmp_path / "t.parquet")] == ["y", "u"]


def test_mcq_loader_rejects_bad_rows(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"question": "q", "choices": ["a", "b"], "answer": 5}\n')
    with pytest.raises(ValueError):
        load_mcq(p)
    p.write_text('{"question": "q", "answer": 0}\n')
    with pytest.raises(ValueError):
        load_mcq(p)


def test_task_roundtrip_json(tmp_path):
    t = build_hazard(seed=2, size=4)
    t.save(tmp_path / "t.json")
    assert TaskData.load(tmp_path / "t.json") == t


def test_utility_corpus_python_docs():
    c = utility_corpus(50)
    assert c.source == "python-docs" and "pydoc_data" in c.metadata["description"]
    assert len(c.texts) == 50 and all(len(t) >= 150 for t in c.texts)
    assert c.texts == utility_corpus(50).texts
    assert c.texts != utility_corpus(50, seed=1).texts
    assert len(utility_corpus(None).texts) == c.metadata["available"]
    with pytest.raises(ValueError):
        utility_corpus(source="tinystories")  # type: ignore[arg-type]


@pytest.mark.skipif(importlib.util.find_spec("garak") is None, reason="garak not installed")
def test_utility_corpus_garak_books():
    c = utility_corpus(20, source="garak-books")
    assert c.source == "garak-books" and len(c.texts) == 20
    assert not any("[MASK]" in t for t in c.texts)


def test_generic_prompts():
    ps = generic_prompts()
    assert 45 <= len(ps) <= 60 and len(set(ps)) == len(ps)
    assert not any(p.startswith("#") for p in ps)
    assert generic_prompts(5) == ps[:5]
