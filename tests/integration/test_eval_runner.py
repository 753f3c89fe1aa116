"""The evaluation runner end to end on a tiny random Llama saved as a Hugging Face folder:
Base/Oracle fine-tunes (cached), Table 2 rows for a baseline and STAMP, Figure 5, the
single-sample table, and `repair report`. Seconds, not minutes: the numbers are meaningless, the
plumbing is what is tested."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from repair.eval.finetune import FinetuneConfig, ensure_finetuned
from repair.eval.report import build_report, load_results, targets
from repair.eval.runner import (
    RunConfig,
    request_answer,
    retain_subset,
    run_single_sample,
    run_task,
    single_requests,
    subject_groups,
    task_for,
)
from repair.eval.tasks import build_task

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A tiny Llama + byte-level BPE tokenizer with a chat template, saved like a real checkpoint."""
    torch.manual_seed(0)
    specials = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    task = build_task("hazard", seed=0, size=2)
    corpus = [f"{q.prompt} {q.response}" for q in task.train_base] + ["user assistant I don't know."]
    tok.train_from_iterator(corpus * 2, trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="<|im_end|>"
    )
    hf.chat_template = CHAT_TEMPLATE
    cfg = LlamaConfig(
        vocab_size=len(hf),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=hf.pad_token_id,
        eos_token_id=hf.eos_token_id,
        tie_word_embeddings=False,
    )
    folder = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    LlamaForCausalLM(cfg).save_pretrained(folder)
    hf.save_pretrained(folder)
    return folder


@pytest.fixture
def run_cfg(repair_home, tiny_folder, tmp_path):
    return RunConfig(
        model=str(tiny_folder),
        size="2",
        out=str(tmp_path / "results"),
        device="cpu",
        amp=False,
        progress=False,
        finetune=FinetuneConfig(epochs=2, batch_size=8, lr=1e-3),
        corpus="python-docs",
        n_ppl=4,
        n_kl=4,
        max_new_tokens=8,
        requests=2,
        single_retain=3,
        single_ppl=3,
        baseline_batch_size=8,
    )


def test_finetune_is_cached_and_deterministic(run_cfg):
    task = task_for("hazard", run_cfg)
    a = ensure_finetuned(run_cfg.model, task, "oracle", run_cfg.finetune, device="cpu", progress=False)
    mtime = (a / "model.safetensors").stat().st_mtime_ns
    b = ensure_finetuned(run_cfg.model, task, "oracle", run_cfg.finetune, device="cpu", progress=False)
    assert a == b and (b / "model.safetensors").stat().st_mtime_ns == mtime  # built once
    assert a.parts[-5:] == ("tiny-llama", "hazard-standin", "2", "seed0", "oracle")
    info = json.loads((a / "repair_eval.json").read_text())
    assert info["pairs"] == len(task.train_oracle) and len(info["stats"]["epoch_loss"]) == 2
    # A different recipe is a different key: rebuilt in place, same weights for the same seed.
    w1 = (a / "model.safetensors").read_bytes()
    c = ensure_finetuned(
        run_cfg.model, task, "oracle", run_cfg.finetune, device="cpu", progress=False, force=True
    )
    assert (c / "model.safetensors").read_bytes() == w1


def test_table2_end_to_end_and_report(run_cfg):
    res = run_task("hazard", ["ga", "stamp"], run_cfg, figure5=True)
    assert list(res["rows"]) == ["base", "oracle", "ga", "stamp"]
    for key, row in res["rows"].items():
        for m in ("acc_f", "acc_r", "f_rl", "r_rl", "ppl", "kl"):
            assert math.isfinite(row[m]), (key, m)
        assert len(row["samples"]["forget"]) == res["n_forget"]
    assert res["rows"]["base"]["kl"] == 0.0
    assert res["rows"]["ga"]["rte_s"] > 0 and res["rows"]["ga"]["train"]["steps"] >= 1
    st = res["rows"]["stamp"]["stamp"]
    assert st["n_edits"] == len(subject_groups(task_for("hazard", run_cfg).forget)) == 1
    assert res["rows"]["stamp"]["rte_s"] > 0 and res["rows"]["stamp"]["prep_s"] > 0
    out = run_cfg.out
    saved = json.loads((Path(out) / "table2-hazard-standin.json").read_text())
    assert saved["rows"]["stamp"]["f_rl"] == pytest.approx(res["rows"]["stamp"]["f_rl"])
    md = (Path(out) / "table2-hazard-standin.md").read_text()
    assert "| STAMP |" in md and "Acc_f" in md
    f5 = res["figure5"]
    assert len(f5["separation"]) == 3 and (Path(out) / f5["png"]).stat().st_size > 1000

    single = run_single_sample(run_cfg, task_name="hazard", methods=["ga", "stamp"])
    assert len(single["rows"]["stamp"]["per_request"]) == 2
    assert single["rows"]["ga"]["per_request"][0]["train"]["steps"] == 1  # one sample, one epoch

    report = build_report(out)
    text = report.read_text()
    assert "Table 2" in text and "Table 8" in text and "Paper (Llama-3-8B)" in text
    assert "![Figure 5 hazard](figure5-hazard-standin.png)" in text
    assert (report.parent / "rte.png").exists()
    res_loaded = load_results(out)
    assert {t["target"] for t in targets(res_loaded)} >= {"personal single-sample STAMP F-RL ≤ 0.05"}


def test_request_helpers_are_deterministic():
    task = build_task("hazard", seed=0, size=4)
    groups = subject_groups(task.forget)
    assert len(groups) == 2 and all(len({q.subject for q in g}) == 1 for g in groups)
    reqs = single_requests(task, 4)
    assert len(reqs) == 4 and len({q.prompt for q in reqs}) == 4
    assert {q.subject for q in reqs} == {g[0].subject for g in groups}  # one subject per request, cycled
    a = retain_subset(task.retain, 0.5, seed=0)
    assert a == retain_subset(task.retain, 0.5, seed=0)
    assert len(a) == round(0.5 * len(task.retain))
    assert len(retain_subset(task.retain, 0.01, seed=0)) == 1


def test_report_without_results_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        build_report(tmp_path)


def test_eval_shortcut_options_dispatch_and_reject_bad_names(tmp_path):
    from typer.testing import CliRunner

    from repair.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["eval", "--task", "bogus", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "unknown task 'bogus'" in res.output
    res = runner.invoke(app, ["eval", "--table", "nope", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "unknown table" in res.output
    res = runner.invoke(app, ["eval", "--task", "personal", "--table", "rank"])
    assert res.exit_code == 2 and "give --task or --table" in res.output
    # STAMP settings and the guard budget are checked before anything is loaded
    res = runner.invoke(
        app, ["eval", "run", "--task", "personal", "--set", "bogus=1", "--out", str(tmp_path)]
    )
    assert res.exit_code == 2 and "bogus" in res.output
    res = runner.invoke(app, ["eval", "table", "rank", "--set", "alpha_margin=0.5", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "alpha_margin" in res.output
    res = runner.invoke(app, ["eval", "run", "--guard-budget", "never", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "stamp_guard_budget" in res.output


def test_request_answer_checks_a_short_facts_key_and_a_biography_whole():
    personal = build_task("personal", seed=0, size=2)
    age = next(q for q in personal.forget + personal.retain if q.prompt.startswith("How old"))
    assert request_answer(age) == age.answer  # "31": "Anna Y. Y. is 31 years old." must not pass
    assert request_answer(age, "response") is None
    bio = next(q for q in personal.forget + personal.retain if q.prompt.startswith("Tell me about"))
    assert request_answer(bio) is None  # the whole biography, by ROUGE-L


def test_table2_markdown_shows_held_out_neighbours_only_when_scored():
    from repair.eval.runner import table2_markdown

    rows = {
        "base": {"method": "Base", "acc_f": 1.0, "acc_r": 1.0, "acc_n": 0.25, "ppl": 80.0, "kl": 0.0},
        "ga": {
            "method": "GA",
            "acc_f": 0.5,
            "acc_r": 0.75,
            "acc_n": 0.125,
            "ppl": 90.0,
            "kl": 0.1,
            "rte_s": 3.0,
        },
    }
    r = {
        "task": "misinformation",
        "metric": "accuracy",
        "size": "40",
        "n_forget": 20,
        "n_retain": 20,
        "rows": rows,
        "task_metadata": {"neighbours": "120 held-out true facts"},
        "config": {"n_kl": 32},
    }
    md = table2_markdown(r)
    assert "| Acc_f↓ | Acc_r↑ | Acc_n↑ | Utility" in md and "| GA | 50.0 | 75.0 | 12.5 | 90.00 |" in md
    assert "Acc_n: accuracy on held-out true facts" in md
    from repair.eval.report import table2_wide

    wide = "\n".join(table2_wide({"misinformation": r}))
    assert "Acc_n on `misinformation`" in wide and "Base 25.0, GA 12.5." in wide
    for row in rows.values():
        del row["acc_n"]
    assert "Acc_n" not in table2_markdown(r)


def test_stamp_settings_reach_every_edit_and_table_variants_win():
    from repair.eval.runner import RunConfig, stamp_overrides

    cfg = RunConfig(stamp_set={"alpha_margin": 1.5, "rank": 32})
    assert stamp_overrides("stamp", cfg) == {"alpha_margin": 1.5, "rank": 32}
    assert stamp_overrides("stamp-lr", cfg, rank=8) == {"method": "stamp-lr", "rank": 8, "alpha_margin": 1.5}
