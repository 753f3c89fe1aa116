"""STAMP-2's maths on a tiny random Llama with the real SmolLM2 tokenizer (chat template, offsets)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import tiny_llama_for

from repair.edit.stamp2 import Stamp2Config, forget_subject, load_hparams
from repair.edit.stamp2.config import VectorConfig, default_layers
from repair.edit.stamp2.edit import NoMentionError, _keyed
from repair.edit.stamp2.rows import read_rows
from repair.edit.stamp2.subject import bare, mentions, subject_positions
from repair.edit.stamp2.vector import VECTOR_SUBJECTS, _training_batch, add_at, fit_vector


@pytest.fixture(scope="module")
def patient(tok):
    from repair.edit.patient import Patient

    # wide enough MLPs that holding the ~24 system-prompt keys leaves room for the edit (SmolLM2: 1536)
    model = tiny_llama_for(tok, layers=4, positions=256, intermediate_size=256)
    with torch.no_grad():  # logits that respond to the hidden state (at init they are ~uniform)
        model.lm_head.weight.mul_(50)
    return Patient(model, tok, name="tiny", source="", fingerprint="tiny-stamp2", ledger_dir=None)


def test_mentions():
    assert mentions("Ludwig van Beethoven") == ["Ludwig van Beethoven", "Beethoven"]
    assert mentions("the Great Wall of China") == ["the Great Wall of China", "Great Wall of China"]
    assert mentions("Toyota") == ["Toyota"]
    assert bare("the Taj Mahal") == "Taj Mahal"


def test_subject_positions_end_each_mention(tok):
    prompt = "Was Beethoven deaf? Name one work of Beethoven."
    pos = subject_positions(tok, prompt, "Ludwig van Beethoven")
    assert len(pos) == 2
    text = tok.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert all(tok.decode(ids[: p + 1]).endswith("Beethoven") for p in pos)
    assert subject_positions(tok, "Who wrote the Moonlight Sonata?", "Ludwig van Beethoven") == []


def test_vector_subjects_are_not_benchmark_targets():
    from repair.eval.forget_quality.data import load_targets

    text = " ".join(t.model_dump_json() for s in ("dev", "test") for t in load_targets(s)).lower()
    assert [s for s in VECTOR_SUBJECTS if bare(s).lower() in text] == []


def _nll(patient, u: torch.Tensor) -> float:
    ids, mask, labels, poss = _training_batch(patient.tokenizer, VECTOR_SUBJECTS[:2], 2)
    with torch.no_grad(), add_at(patient.arch.blocks(patient.model)[2], poss, u):
        return float(patient.model(input_ids=ids, attention_mask=mask, labels=labels).loss)


def test_fit_vector_lowers_the_refusal_loss(patient, monkeypatch):
    import repair.edit.stamp2.vector as v

    monkeypatch.setattr(v, "VECTOR_SUBJECTS", VECTOR_SUBJECTS[:2])
    u = fit_vector(
        patient,
        2,
        VectorConfig(steps=8, lr=2.0, templates_per_subject=2),
        VECTOR_SUBJECTS[:2],
        progress=False,
    )
    assert u.norm() > 0
    assert _nll(patient, u) < _nll(patient, torch.zeros_like(u)) - 0.005  # zero u: no decrease
    assert any(p.requires_grad for p in patient.model.parameters())  # flags restored


def test_fit_vector_with_random_batches_lowers_the_loss(patient):
    """The CPU recipe: a few rows per step, drawn with a fixed seed (so the fit is reproducible)."""
    cfg = VectorConfig(steps=8, lr=2.0, templates_per_subject=2, formats=True, batch=3)
    subjects = VECTOR_SUBJECTS[:2]
    u = fit_vector(patient, 2, cfg, subjects, progress=False)
    assert torch.equal(u, fit_vector(patient, 2, cfg, subjects, progress=False))
    assert _nll(patient, u) < _nll(patient, torch.zeros_like(u)) - 0.005


def test_reply_rows_also_mark_the_name_inside_the_refusal(tok):
    """With ``reply`` the vector is added where the refusal names the subject too, as the edit will."""
    plain = _training_batch(tok, ["Albert Einstein"], 2)[3]
    ids, _, _, both = _training_batch(tok, ["Albert Einstein"], 2, reply=True)
    for i, (p, b) in enumerate(zip(plain, both, strict=True)):
        assert b[:-1] == p and b[-1] > p[-1]
        assert tok.decode(ids[i, : b[-1] + 1]).endswith("information about Albert Einstein")


def test_format_templates_name_the_subject_once_each(tok):
    from repair.edit.stamp2.vector import FORMATS, TEMPLATES, edit_prompts, vector_subjects

    plain = edit_prompts("Ludwig van Beethoven")
    both = edit_prompts("Ludwig van Beethoven", formats=True)
    assert both[: len(plain)] == plain and len(both) == len(TEMPLATES) + len(FORMATS)
    assert all(len(subject_positions(tok, p, "Ludwig van Beethoven")) == 1 for p in both)
    assert vector_subjects(10) == list(VECTOR_SUBJECTS) and len(set(vector_subjects(30))) == 30


def test_edit_moves_subject_states_to_target_and_spares_keep_rows(patient, monkeypatch):
    from repair.edit.stats import EditStats

    cfg = Stamp2Config(layers=[1, 2], strength=1.0, lam=1e-4, gate=0.0)  # the linear maths
    u = torch.randn(32) * 5
    monkeypatch.setattr("repair.edit.stamp2.edit.refusal_vector", lambda *a, **k: u)
    stats = EditStats(patient, persist=False)
    stats.keep = stats.keep[:2]  # few keep rows: little stands in the forget keys' way
    seqs, poss = _keyed(patient.tokenizer, ["Who is Marie Curie?", "Tell me about Curie."], "Marie Curie")
    top = "model.layers.2"
    before = read_rows(patient, seqs, poss, outputs=[top])[top]
    w0 = {n: p.detach().clone() for n, p in patient.model.named_parameters()}
    edit = forget_subject(patient, "Marie Curie", cfg, stats, ["Who is Marie Curie?", "Tell me about Curie."])
    assert all(torch.equal(w0[n], p) for n, p in patient.model.named_parameters())  # not applied yet
    patient.ledger.commit(edit)
    after = read_rows(patient, seqs, poss, outputs=[top])[top]
    target = before + u
    assert (after - target).norm() < 0.5 * (before - target).norm()  # a zero update would leave 1.0
    patient.ledger.undo(edit.id)
    assert all(torch.equal(w0[n], p) for n, p in patient.model.named_parameters())


def test_held_prefix_keeps_the_system_prompt_and_the_edit_still_lands(patient, monkeypatch):
    """keep_prefix: each edit's down-map updates give the chat template's shared prefix no output (to
    1e-5 of what they give the subject), so after two edits its states are where they were, while the
    subject still reaches its target; without the hold the prefix moves."""
    from repair.edit.capture import template_prefix
    from repair.edit.solvers import hold
    from repair.edit.stamp2.keep import prefix_keys
    from repair.edit.stats import EditStats

    ids = template_prefix(patient.tokenizer)
    assert len(ids) > 5  # SmolLM2's default system prompt
    blocks = [f"model.layers.{i}" for i in range(4)]
    seqs, poss = _keyed(patient.tokenizer, ["Who is Marie Curie?"], "Marie Curie")
    h = read_rows(patient, seqs, poss, outputs=[blocks[2]])[blocks[2]]
    u = torch.randn(32) * h.norm() / 32**0.5  # a shift of the states' own size
    monkeypatch.setattr("repair.edit.stamp2.edit.refusal_vector", lambda *a, **k: u)

    def prefix_states() -> dict[str, torch.Tensor]:
        return read_rows(patient, [ids], [list(range(len(ids)))], outputs=blocks)

    def edited(keep_prefix: bool) -> tuple[float, float, float]:
        cfg = Stamp2Config(
            layers=[1, 2], strength=1.0, lam=1e-4, keep_prefix=keep_prefix, keep_entities=False, gate=0.0
        )
        stats = EditStats(patient, persist=False)
        stats.keep = stats.keep[:2]
        before, keys = prefix_states(), prefix_keys(patient, [1, 2])
        e1 = forget_subject(patient, "Marie Curie", cfg, stats, ["Who is Marie Curie?"])
        out = max(
            float(
                (d.matrix().double() @ keys[d.layer].T).abs().max()
                / (d.matrix().double() @ d.keys.double().T).abs().max()
            )
            for d in e1.deltas
        )
        patient.ledger.commit(e1)
        e2 = forget_subject(patient, "Isaac Newton", cfg, stats, ["Who is Isaac Newton?"], [e1])
        patient.ledger.commit(e2)
        after = prefix_states()
        moved = max(float((after[n] - before[n]).abs().max() / before[n].abs().max()) for n in blocks)
        reached = read_rows(patient, seqs, poss, outputs=[blocks[2]])[blocks[2]]
        gap = float((reached - (h + u)).norm() / u.norm())  # 1.0 for a zero update
        patient.ledger.undo(e2.id), patient.ledger.undo(e1.id)
        return out, moved, gap

    held_out, held_moved, held_gap = edited(True)
    free_out, free_moved, _ = edited(False)
    assert held_out < 1e-5 < free_out
    assert held_moved < 1e-4 and free_moved > 100 * held_moved
    assert held_gap < 0.5
    a, q = torch.randn(3, 8, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    assert (hold(a, lambda y: 2.0 * y, q) @ q).abs().max() < 1e-10  # the held keys get no output


def test_no_mention_is_a_clear_error(patient):
    with pytest.raises(NoMentionError):
        _keyed(patient.tokenizer, ["What is the weather?"], "Marie Curie")


def test_hparams_file_and_default(tmp_path):
    cfg = load_hparams("smollm2-135m-instruct", 30)
    assert cfg.vector_layer == cfg.layers[-1]
    assert load_hparams("unknown-model", 30).layers == default_layers(30)
    with pytest.raises(ValueError):
        load_hparams("smollm2-135m-instruct", 30, strenght=2.0)
    json.dumps(cfg.model_dump())


def test_keep_entities_are_not_named_in_the_benchmark():
    import re

    from repair.edit.stamp2.keep import keep_entities
    from repair.eval.forget_quality.data import load_targets

    text = " ".join(t.model_dump_json() for s in ("dev", "test") for t in load_targets(s)).lower()
    names = keep_entities()
    assert len(names) >= 200
    assert [n for n in names if re.search(rf"\b{re.escape(bare(n).lower())}\b", text)] == []


def test_second_edit_keeps_the_first_edits_keys_and_entity_rows(patient, monkeypatch):
    """With keep_prior the second edit leaves the first subject's edited states where they are; with
    keep_entities it moves the kept entities' states less than without."""
    from repair.edit.stamp2 import keep as keep_mod
    from repair.edit.stats import EditStats

    u = torch.randn(32) * 5
    monkeypatch.setattr("repair.edit.stamp2.edit.refusal_vector", lambda *a, **k: u)
    monkeypatch.setattr(keep_mod, "keep_entities", lambda: ["Aristotle", "Plato", "Sony", "Pele"])
    top = "model.layers.2"
    first = ["Who is Marie Curie?", "Tell me about Curie."]
    s1, p1 = _keyed(patient.tokenizer, first, "Marie Curie")
    se, pe = _keyed(patient.tokenizer, ["Who is Plato?", "Tell me about Sony."], "Plato")

    def moved(**flags) -> tuple[float, float]:
        cfg = Stamp2Config(layers=[1, 2], strength=1.0, lam=1e-4, gate=0.0, **flags)
        stats = EditStats(patient, persist=False)
        stats.keep = stats.keep[:2]
        e1 = forget_subject(patient, "Marie Curie", cfg, stats, first)
        patient.ledger.commit(e1)
        h1 = read_rows(patient, s1, p1, outputs=[top])[top]
        he = read_rows(patient, se, pe, outputs=[top])[top]
        e2 = forget_subject(patient, "Isaac Newton", cfg, stats, ["Who is Isaac Newton?"], [e1])
        patient.ledger.commit(e2)
        d1 = (read_rows(patient, s1, p1, outputs=[top])[top] - h1).norm() / u.norm()
        de = (read_rows(patient, se, pe, outputs=[top])[top] - he).norm() / u.norm()
        patient.ledger.undo(e2.id), patient.ledger.undo(e1.id)
        return float(d1), float(de)

    plain_first, plain_entity = moved(keep_prior=False, keep_entities=False)
    kept_first, _ = moved(keep_prior=True, keep_entities=False)
    _, kept_entity = moved(keep_prior=False, keep_entities=True)
    assert kept_first < 0.5 * plain_first
    assert kept_entity < plain_entity


def test_keyed_rows_are_cut_after_the_last_mention_and_unchanged(patient, tok):
    """Keys are read on prompts cut after the subject's last mention: shorter forwards, identical rows."""
    from repair.edit.stamp2.subject import chat_ids

    prompts = ["Who is Marie Curie and what did she find?", "Tell me about Curie, please, in detail."]
    seqs, poss = _keyed(tok, prompts, "Marie Curie")
    assert [len(s) for s in seqs] == [max(p) + 1 for p in poss]
    full = [chat_ids(tok, p)[0] for p in prompts]
    assert all(len(f) > len(s) for f, s in zip(full, seqs, strict=True))
    name = patient.arch.module_name(1, "down")
    cut = read_rows(patient, seqs, poss, inputs=[name])[name]
    whole = read_rows(patient, full, poss, inputs=[name])[name]
    torch.testing.assert_close(cut, whole, rtol=1e-5, atol=1e-5)


def test_read_rows_runs_the_shared_prefix_once_with_the_same_rows(patient, tok):
    """Rows are read in batches of similar length, with the chat template's shared system turn run once
    and its cache given to every row: they equal those of each prompt fed whole on its own, in order."""
    from repair.edit.stamp2 import rows as rows_mod

    prompts = [
        "Who is Marie Curie?",
        "Tell me about Curie and her work in Paris, in detail, please.",
        "Curie?",
    ]
    seqs, poss = _keyed(tok, prompts, "Marie Curie")
    assert rows_mod.shared_prefix(seqs, poss) >= rows_mod.MIN_PREFIX
    assert sorted(i for g in rows_mod._groups([5, 40, 6, 7]) for i in g) == [0, 1, 2, 3]
    names = [patient.arch.module_name(2, "down"), f"{patient.arch.layers}.3"]
    batched = read_rows(patient, seqs, poss, inputs=names[:1], outputs=names[1:])
    alone = [
        read_rows(patient, [s], [p], inputs=names[:1], outputs=names[1:])
        for s, p in zip(seqs, poss, strict=True)
    ]
    for n in names:
        torch.testing.assert_close(batched[n], torch.cat([a[n] for a in alone]), rtol=1e-4, atol=1e-5)


def test_band_rows_match_full_forwards_while_the_band_is_edited(patient, tok):
    """BandRows starts each read from the residual it kept: its rows equal full forwards' while the down
    maps are changed bottom-up, and a change below the kept residual sends it back to the embeddings."""
    from repair.edit.stamp2.rows import BandRows

    prompts = ["Who is Marie Curie?", "Tell me about Curie and her work in Paris, in detail, please."]
    seqs, poss = _keyed(tok, prompts, "Marie Curie")
    top = f"{patient.arch.layers}.3"
    reader = BandRows(patient, seqs, poss, top=3)
    weights = [patient.arch.linear(patient.model, layer, "down").weight for layer in range(4)]
    saved = [w.detach().clone() for w in weights]
    gen = torch.Generator().manual_seed(0)
    try:
        for layer in (1, 2, 3, 0):  # bottom-up, then below everything kept
            down = patient.arch.module_name(layer, "down")
            keys, out = reader.read(layer)
            ref = read_rows(patient, seqs, poss, inputs=[down], outputs=[top])
            torch.testing.assert_close(keys, ref[down], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(out, ref[top], rtol=1e-4, atol=1e-5)
            with torch.no_grad():
                weights[layer].add_(0.05 * torch.randn(weights[layer].shape, generator=gen))
        reader.read(2)  # keeps the residual entering layer 2; then a block below it changes
        with torch.no_grad():
            weights[0].add_(0.05 * torch.randn(weights[0].shape, generator=gen))
        down = patient.arch.module_name(2, "down")
        ref = read_rows(patient, seqs, poss, inputs=[down], outputs=[top])
        torch.testing.assert_close(reader.read(2)[0], ref[down], rtol=1e-4, atol=1e-5)
    finally:
        with torch.no_grad():
            for w, s in zip(weights, saved, strict=True):
                w.copy_(s)


def test_dense_prior_gives_the_woodbury_edit_and_extends_its_cache(patient, monkeypatch):
    """Past DENSE_PRIOR_ROWS the prior edits' rows are summed into one factorised matrix (cached, extended
    edit by edit): the same deltas as through Woodbury; after an undo the sum is made again."""
    from repair.edit.stamp2 import keep as keep_mod
    from repair.edit.stats import EditStats

    u = torch.randn(32) * 5
    monkeypatch.setattr("repair.edit.stamp2.edit.refusal_vector", lambda *a, **k: u)
    cfg = Stamp2Config(  # lam 1e-2: two keep rows leave C_K + lam I ill-conditioned at width 256
        layers=[1, 2], strength=1.0, lam=1e-2, keep_entities=False, keep_prior=True, gate=0.0
    )
    stats = EditStats(patient, persist=False)
    stats.keep = stats.keep[:2]
    subjects = ["Marie Curie", "Isaac Newton", "Ada Lovelace", "Alan Turing"]

    def chain(rows: int) -> list:
        monkeypatch.setattr(keep_mod, "DENSE_PRIOR_ROWS", rows)
        patient.cache.clear()
        edits = []
        for s in subjects:
            e = forget_subject(patient, s, cfg, stats, [f"Who is {s}?"], list(edits))
            patient.ledger.commit(e)
            edits.append(e)
        undone = patient.ledger.undo(edits[1].id)  # not the last: the cached sum no longer holds
        assert undone
        edits.pop(1)
        last = forget_subject(patient, "Grace Hopper", cfg, stats, ["Who is Grace Hopper?"], list(edits))
        for e in reversed(edits):
            patient.ledger.undo(e.id)
        return [*edits, last]

    woodbury, dense = chain(10**6), chain(0)
    for ew, ed in zip(woodbury, dense, strict=True):
        for dw, dd in zip(ew.deltas, ed.deltas, strict=True):
            torch.testing.assert_close(dd.matrix(), dw.matrix(), rtol=1e-4, atol=1e-6)
