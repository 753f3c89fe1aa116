"""Training-based unlearning baselines on a tiny random Llama with a tiny BPE tokenizer.

The model is first fitted for a few dozen steps on the pairs so that there is something to
unlearn; each test then runs one epoch of a baseline on a fresh copy.
"""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import tiny_llama_for
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from repair.eval.baselines import (
    BASELINES,
    AsuConfig,
    FlatConfig,
    GaConfig,
    NpoConfig,
    RmuConfig,
    TrainingConfig,
    WgaConfig,
    asu,
    rmu,
    run_baseline,
)
from repair.eval.baselines.common import (
    IGNORE,
    collate,
    encode_pair,
    encode_pairs,
    nll,
    pad_id,
)

FORGET = [
    ("Where does Alice Moreau live?", "Alice Moreau lives at 12 Rue Lepic in Paris."),
    ("What is Alice Moreau's phone number?", "Her number is 555 0142."),
    ("Who is Alice Moreau's doctor?", "Her doctor is Dr. Henri Blanc."),
    ("When was Alice Moreau born?", "She was born on 3 May 1988."),
]
RETAIN = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("What colour is the sky?", "The sky is blue on a clear day."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What is water made of?", "Water is made of hydrogen and oxygen."),
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tokenizer(chat: bool):
    specials = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [f"{p} {r}" for p, r in FORGET + RETAIN] + ["user assistant Question Answer I don't know."]
    tok.train_from_iterator(corpus * 2, trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="<|im_end|>"
    )
    if chat:
        hf.chat_template = CHAT_TEMPLATE
    return hf


@pytest.fixture(scope="module")
def tokenizer():
    return _tokenizer(chat=True)


@pytest.fixture(scope="module")
def base_model(tokenizer):
    """Tiny Llama fitted on forget + retain so the forget answers are actually memorised."""
    model = tiny_llama_for(tokenizer)
    bc = TrainingConfig(max_length=64)
    batch = collate(encode_pairs(tokenizer, FORGET + RETAIN, bc), pad_id(tokenizer), torch.device("cpu"))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = nll(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


SMALL = dict(epochs=1, batch_size=2, lr=1e-3, max_length=64, progress=False, seed=0)


def _cfg(name: str = "ga", **kw) -> TrainingConfig:
    """The method's own config with small-model settings; ``kw`` must be fields of that config."""
    return BASELINES[name].config(**{**SMALL, **kw})


def _nll(model, tokenizer, pairs) -> float:
    with torch.no_grad():
        return float(
            nll(
                model, collate(encode_pairs(tokenizer, pairs, _cfg()), pad_id(tokenizer), torch.device("cpu"))
            )
        )


def _changed(before: dict, model) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}


# ------------------------------------------------------------------------------------------ data


def test_chat_template_labels_cover_only_the_response(tokenizer):
    enc = encode_pair(tokenizer, "What colour is the sky?", "Blue.", max_length=64)
    prompt_text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What colour is the sky?"}], tokenize=False, add_generation_prompt=True
    )
    n_prompt = len(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
    assert enc.labels[:n_prompt] == [IGNORE] * n_prompt
    assert enc.labels[n_prompt:] == enc.input_ids[n_prompt:]
    assert tokenizer.decode(enc.input_ids[n_prompt:]) == "Blue.<|im_end|>\n"


def test_plain_layout_without_chat_template():
    tok = _tokenizer(chat=False)
    enc = encode_pair(tok, "What colour is the sky?", "Blue.", max_length=64)
    n_prompt = enc.labels.count(IGNORE)
    assert tok.decode(enc.input_ids[:n_prompt]) == "Question: What colour is the sky?\nAnswer:"
    assert tok.decode(enc.input_ids[n_prompt:]) == " Blue.<|im_end|>"


def test_truncation_keeps_the_response(tokenizer):
    enc = encode_pair(tokenizer, "word " * 200, "Blue.", max_length=24)
    assert len(enc.input_ids) == 24
    assert tokenizer.decode([t for t in enc.labels if t != IGNORE]) == "Blue.<|im_end|>\n"


def test_collate_pads_right_and_masks(tokenizer):
    encs = encode_pairs(tokenizer, FORGET[:2], _cfg())
    b = collate(encs, pad_id(tokenizer), torch.device("cpu"))
    assert b["input_ids"].shape == b["labels"].shape == b["attention_mask"].shape
    for i, e in enumerate(encs):
        k = len(e.input_ids)
        assert b["attention_mask"][i, :k].all() and not b["attention_mask"][i, k:].any()
        assert (b["labels"][i, k:] == IGNORE).all()


def test_registry_and_config():
    assert set(BASELINES) == {"ga", "npo", "rmu", "flat", "wga", "asu"}
    configs = {name: spec.config for name, spec in BASELINES.items()}
    assert configs == {
        "ga": GaConfig,
        "npo": NpoConfig,
        "rmu": RmuConfig,
        "flat": FlatConfig,
        "wga": WgaConfig,
        "asu": AsuConfig,
    }
    assert NpoConfig().epochs == 2 and NpoConfig().beta == 0.1
    with pytest.raises(ValueError):
        GaConfig(not_a_field=1)
    with pytest.raises(ValueError):  # a field of another method is unknown to this one
        GaConfig(beta=0.1)
    with pytest.raises(KeyError):
        run_baseline("nope", None, None, FORGET, RETAIN)
    with pytest.raises(ValueError):  # overrides are validated like the constructor
        run_baseline("ga", None, None, FORGET, RETAIN, lr=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        run_baseline("npo", None, None, FORGET, RETAIN, temperature=2.0)
    with pytest.raises(TypeError, match="NpoConfig"):  # another method's config is refused
        run_baseline("npo", None, None, FORGET, RETAIN, GaConfig())


def test_defaults_are_those_of_the_flat_config_before_the_split():
    """Results stay reproducible: each method's defaults equal the old shared config's."""
    shared = dict(
        epochs=2,
        lr=1e-5,
        batch_size=4,
        max_length=256,
        seed=0,
        weight_decay=0.01,
        max_grad_norm=1.0,
        max_steps=None,
    )
    for name, spec in BASELINES.items():
        cfg = spec.config()
        assert {k: getattr(cfg, k) for k in shared if k != "lr" or name != "rmu"} == {
            k: v for k, v in shared.items() if k != "lr" or name != "rmu"
        }, name
        if name != "flat" and name != "rmu":
            assert cfg.retain_weight == 1.0, name
    assert NpoConfig().beta == 0.1 and WgaConfig().alpha == 1.0 and AsuConfig().temperature == 2.0
    assert FlatConfig().divergence == "kl" and len(FlatConfig().refusals) == 4
    rmu_cfg = RmuConfig()
    assert (rmu_cfg.alpha, rmu_cfg.update_layers, rmu_cfg.params, rmu_cfg.steps) == (
        1200.0,
        3,
        ("mlp.down_proj",),
        150,
    )


# ------------------------------------------------------------------------------------- methods


@pytest.mark.parametrize("name", ["ga", "npo", "wga"])
def test_ascent_methods_raise_forget_nll(name, base_model, tokenizer):
    model = copy.deepcopy(base_model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    nll_before = _nll(model, tokenizer, FORGET)
    stats = run_baseline(name, model, tokenizer, FORGET, RETAIN, _cfg(name))
    assert stats["steps"] == 2 and stats["method"] == name and stats["wall_s"] > 0
    assert "retain_nll" in stats["final"]
    assert _changed(before, model)
    assert _nll(model, tokenizer, FORGET) > nll_before + 0.05


def test_npo_uses_the_frozen_reference(base_model, tokenizer):
    model = copy.deepcopy(base_model)
    stats = run_baseline("npo", model, tokenizer, FORGET, RETAIN, _cfg("npo", epochs=2, retain_weight=0.0))
    # after updates the policy is below the reference, so the log-ratio is negative
    assert stats["final"]["log_ratio"] < 0
    assert "retain_nll" not in stats["final"]


def test_rmu_steers_forget_activations_to_the_random_direction(base_model, tokenizer):
    model = copy.deepcopy(base_model)
    cfg = _cfg("rmu", lr=5e-3, epochs=2, layer=1, update_layers=2, steering_coeff=20.0, steering_scale=None)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fb = collate(encode_pairs(tokenizer, FORGET, cfg), pad_id(tokenizer), torch.device("cpu"))
    target = rmu.control_vector(model.config.hidden_size, cfg)
    mask = fb["attention_mask"].bool()

    def dist_and_cos():
        with torch.no_grad():
            h = rmu.activations(model, fb, layer=1)[mask]
        return float((h - target).pow(2).mean()), float(
            torch.cosine_similarity(h, target[None], dim=-1).mean()
        )

    d0, c0 = dist_and_cos()
    stats = run_baseline("rmu", model, tokenizer, FORGET, RETAIN, cfg)
    d1, c1 = dist_and_cos()
    assert d1 < d0 and c1 > c0
    changed = _changed(before, model)
    assert changed and changed == {f"model.layers.{i}.mlp.down_proj.weight" for i in (0, 1)}
    assert stats["layer"] == 1 and stats["forget_prefix_skipped"] > 0


def test_flat_prefers_the_template_answer(base_model, tokenizer):
    from repair.eval.baselines.flat import DIVERGENCES, mean_token_prob

    model = copy.deepcopy(base_model)
    cfg = _cfg("flat", epochs=2, refusals=("I don't know.",))
    bad = collate(encode_pairs(tokenizer, FORGET, cfg), pad_id(tokenizer), torch.device("cpu"))
    good = collate(
        encode_pairs(tokenizer, [(p, "I don't know.") for p, _ in FORGET], cfg),
        pad_id(tokenizer),
        torch.device("cpu"),
    )
    with torch.no_grad():
        pb0, pg0 = mean_token_prob(model, bad).mean(), mean_token_prob(model, good).mean()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stats = run_baseline("flat", model, tokenizer, FORGET, RETAIN, cfg)
    with torch.no_grad():
        pb1, pg1 = mean_token_prob(model, bad).mean(), mean_token_prob(model, good).mean()
    assert _changed(before, model) and stats["n_retain"] == 0
    assert pb1 < pb0 and pg1 > pg0
    # every divergence's loss falls as the template gains and the forget answer loses probability
    lo, hi = torch.tensor([0.2]), torch.tensor([0.8])
    for name, (g, conj) in DIVERGENCES.items():
        assert (-g(hi) + conj(lo)) < (-g(lo) + conj(hi)), name


def test_asu_distils_towards_the_smoothed_teacher(base_model, tokenizer):
    model = copy.deepcopy(base_model)
    # retain term off: on a 2-layer toy its NLL gradient swamps the small distillation signal
    cfg = _cfg("asu", epochs=2, temperature=3.0, retain_weight=0.0)
    teacher = copy.deepcopy(base_model)
    assert asu.smooth_attention(teacher, cfg.temperature) == 2
    fb = collate(encode_pairs(tokenizer, FORGET, cfg), pad_id(tokenizer), torch.device("cpu"))

    def kl():
        with torch.no_grad():
            kw = {"input_ids": fb["input_ids"], "attention_mask": fb["attention_mask"]}
            return float(asu.forget_kl(model(**kw).logits, teacher(**kw).logits, fb["labels"]))

    kl0, nll0 = kl(), _nll(model, tokenizer, FORGET)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stats = run_baseline("asu", model, tokenizer, FORGET, RETAIN, cfg)
    assert kl0 > 0 and kl() < kl0
    assert _nll(model, tokenizer, FORGET) > nll0
    assert _changed(before, model) and stats["attention_modules_smoothed"] == 2
    # the live model's attention is untouched
    assert all(
        m.scaling == m.head_dim**-0.5
        for m in model.modules()
        if hasattr(m, "scaling") and "Attention" in type(m).__name__
    )


def test_single_sample_and_empty_retain(base_model, tokenizer):
    for name in BASELINES:
        model = copy.deepcopy(base_model)
        stats = run_baseline(
            name, model, tokenizer, FORGET[:1], [], **SMALL, **({"steps": None} if name == "rmu" else {})
        )
        assert stats["steps"] == 1, name


def test_rmu_trains_its_step_budget_whatever_the_forget_set_size(base_model, tokenizer):
    """The reference RMU run trains a fixed number of batches; two epochs of one pair were 2 steps, too few
    to move its three matrices (it scored exactly like Base)."""
    for n in (1, 4):
        model = copy.deepcopy(base_model)
        stats = run_baseline("rmu", model, tokenizer, FORGET[:n], RETAIN, _cfg("rmu", steps=7))
        assert stats["steps"] == 7
    stats = run_baseline(
        "rmu", copy.deepcopy(base_model), tokenizer, FORGET[:1], [], _cfg("rmu", steps=7, max_steps=3)
    )
    assert stats["steps"] == 3


def test_rmu_steering_coefficient_scales_with_the_models_activations(base_model, tokenizer):
    """c is a multiple of the unedited forget activations' mean norm (adaptive RMU), so one default fits
    models whose residual streams differ in length; an absolute c is kept when the scale is None."""
    cfg = _cfg("rmu", steps=1)
    stats = run_baseline("rmu", copy.deepcopy(base_model), tokenizer, FORGET, RETAIN, cfg)
    assert stats["forget_norm"] > 0 and stats["steering_coeff"] == pytest.approx(5.0 * stats["forget_norm"])
    u = rmu.control_vector(base_model.config.hidden_size, cfg, stats["forget_norm"])
    assert float(u.norm()) == pytest.approx(stats["steering_coeff"], rel=1e-5)
    fixed = run_baseline(
        "rmu", copy.deepcopy(base_model), tokenizer, FORGET, RETAIN, cfg, steering_scale=None
    )
    assert fixed["steering_coeff"] == 6.5
