"""End to end on the real default model (SmolLM2-135M-Instruct): forget ten facts, keep the rest."""

from __future__ import annotations

import pytest
import torch

import repair
from repair.agents.surgeon import template_paraphrases
from repair.edit.criterion import probe_forgotten
from repair.eval.facts import known_facts
from repair.eval.metrics import answer_match

pytestmark = pytest.mark.e2e


def _correct(patient, facts) -> list[bool]:
    # One fixed batch before and after: greedy replies depend slightly on batch padding, so retain is
    # compared on identical batches.
    replies = patient.generate([f[0] for f in facts], max_new_tokens=32)
    return [answer_match(r, f[1]) for r, f in zip(replies, facts, strict=True)]


def test_ten_single_sample_edits_forget_and_retain(smollm):
    known = known_facts(smollm)
    assert len(known) >= 14, f"model knows too few facts to test: {len(known)}"
    forget_set, retain_set = known[:10], known[10:]
    base = _correct(smollm, retain_set)
    failed, retain_scores = [], []
    for prompt, answer, paraphrase, reply in forget_set:
        # the default rewordings, minus the held-out paraphrase when a template happens to produce it
        rows = [q for q in template_paraphrases(prompt) if q.lower() != paraphrase.lower()]
        edit = repair.stamp(smollm, [(prompt, reply)], answer=answer, paraphrases=rows)
        after = smollm.generate([prompt, paraphrase], max_new_tokens=32)
        if not all(probe_forgotten(a, answer) for a in after):
            failed.append((prompt, after))
        now = _correct(smollm, retain_set)
        retain_scores.append(sum(b and n for b, n in zip(base, now, strict=True)) / max(sum(base), 1))
        smollm.ledger.undo(edit.id)
    assert not failed, f"still stated after the edit (prompt or held-out paraphrase): {failed}"
    # The target: at least 90% of the retain facts still answered. Measured 2026-11-22 with the
    # early band (layers 2-9): 10/10 forgotten, retain mean 0.94, min 0.87.
    assert sum(retain_scores) / len(retain_scores) >= 0.90, retain_scores


def test_sequential_edits_keep_earlier_ones(smollm):
    known = known_facts(smollm)[:3]
    edits = [repair.stamp(smollm, [(p, reply)], answer=a) for p, a, _, reply in known]
    after = smollm.generate([p for p, *_ in known], max_new_tokens=32)
    for (_, answer, _, _), reply in zip(known, after, strict=True):
        assert probe_forgotten(reply, answer), reply
    for e in reversed(edits):
        smollm.ledger.undo(e.id)
    restored = smollm.generate([p for p, *_ in known], max_new_tokens=32)
    assert all(answer_match(r, a) for r, (_, a, _, _) in zip(restored, known, strict=True))


def test_rows_never_come_from_prefixes_that_keep_rows_share(smollm):
    from repair.edit.capture import encode
    from repair.edit.stamp import novel_positions
    from repair.edit.stats import stats_for

    stats = stats_for(smollm)
    tok = smollm.tokenizer
    e = encode(tok, "What is the capital of France?")
    pos = novel_positions(stats, [], "content")(e)
    shared = encode(tok, "What is the capital of Peru?")  # a keep question with the same template
    n_shared = next(i for i, (a, b) in enumerate(zip(e.ids, shared.ids, strict=False)) if a != b)
    assert pos and min(pos) >= n_shared, (pos, n_shared)
    # a forget prompt that is itself a keep row still gets rows: its own prefixes leave the keep set
    q = stats.questions[0]
    assert novel_positions(stats, stats.duplicates([q]), "content")(encode(tok, q))


def test_capture_stops_early_without_changing_rows(smollm):
    """capture() cuts the forward after the deepest traced layer and each sample after its last selected
    position, and (by default) runs the template's shared prefix once for all samples; the rows must
    equal those of a full forward."""
    import torch

    from repair.edit.capture import capture, encode
    from repair.edit.trace import TraceDict

    samples = [("What is the capital of France?", "Paris."), ("Name a colour.", "")]
    name = smollm.arch.module_name(7, "down")
    for reuse in (True, False):
        for which in ("content", "all"):
            got = capture(
                smollm.model,
                smollm.arch,
                smollm.tokenizer,
                samples,
                [3, 7],
                ["down"],
                which,
                reuse_prefix=reuse,
            )
            at = 0
            for p, r in samples:
                e = encode(smollm.tokenizer, p, r)
                with torch.no_grad(), TraceDict(smollm.model, [name]) as td:
                    smollm.model(input_ids=torch.tensor([e.ids]))
                pos = e.positions(which)
                rows = slice(at, at + len(pos))
                at += len(pos)
                torch.testing.assert_close(
                    got[(7, "down")][0][rows], td[name].input[0, pos], rtol=1e-4, atol=1e-4
                )
                torch.testing.assert_close(
                    got[(7, "down")][1][rows], td[name].output[0, pos], rtol=1e-4, atol=1e-4
                )
            assert at == len(got[(7, "down")][0])


def test_still_answers_is_greedy_decoding(smollm):
    q = "What is the capital of France?"
    reply = smollm.generate([q], max_new_tokens=32)[0]
    assert answer_match(reply, "Paris"), reply
    from repair.edit.verify import still_answers

    # the model's own reply is its greedy continuation; a reply it would not give is not "proven"
    assert still_answers(smollm, [q, q], [reply, "The capital of France is Lyon."], ["Paris", "Lyon"]) == [
        True,
        False,
    ]
    assert still_answers(smollm, [q], reply, "Berlin") == [False]  # not in the response: nothing proven


def test_generate_stops_where_asked(smollm):
    qs = ["What is the capital of France?", "Tell me a long story about a dragon."]
    full = smollm.generate(qs, max_new_tokens=24)
    # until: each reply ends once it has what the check looks for; the others run on
    cut = smollm.generate(qs, max_new_tokens=24, until=lambda i, r: "Paris" in r)
    assert cut[0].endswith("Paris") and full[0].startswith(cut[0]) and cut[1] == full[1]
    # stop_when: one reply that satisfies it stops the whole batch
    both = smollm.generate(qs, max_new_tokens=24, stop_when=lambda i, r: "Paris" in r)
    assert both[0] == cut[0] and len(both[1]) < len(full[1]) and full[1].startswith(both[1])


def test_guard_keeps_an_edit_that_breaks_other_answers_out_of_the_ledger(smollm):
    guard = [
        "Who wrote Romeo and Juliet?",
        "What is the largest planet in our solar system?",
        "What is the capital of Japan?",
        "Who painted the Mona Lisa?",
    ]
    q = "What is the capital of France?"
    reply = smollm.generate([q], max_new_tokens=32)[0]
    # A far too strong edit forgets by wrecking the model: the guard's replies change, so it is not committed.
    wreck = repair.stamp(smollm, [(q, reply)], answer="Paris", alpha=5000.0, guard=guard, guard_keep=1.0)
    g = wreck.meta.verification.guard
    assert wreck.meta.uncommitted_reason == "guard" and not g.ok and g.kept < g.total, g
    assert not smollm.ledger.active
    # The searched edit forgets and keeps them (two thirds, the default): committed as usual.
    edit = repair.stamp(smollm, [(q, reply)], answer="Paris", guard=guard)
    assert edit.meta.verification.forgotten and edit.meta.verification.guard.ok
    assert [e.id for e in smollm.ledger.active] == [edit.id]
    smollm.ledger.undo(edit.id)


def test_a_recorded_guard_counts_earlier_losses_against_the_same_budget(smollm):
    """guard=<recorded GuardQuestions>: answers lost before this edit stay lost in its verdict."""
    from repair.edit.stamp import guard_now, guard_set

    recorded = guard_set(smollm, ["Who wrote Romeo and Juliet?", "What is the capital of Japan?"])
    assert len(recorded) == 2
    # a question an earlier edit "took away": its recorded answer is one the model does not give now
    lost = recorded[0]._replace(question="What is the capital of Italy?", golds=["Zzyzx"], gold="Zzyzx")
    kept, total = guard_now(smollm, [*recorded, lost])
    assert (len(kept), total) == (2, 3)
    assert guard_now(smollm, [g.question for g in recorded])[1] == 2  # prompts: the budget starts afresh
    q = "What is the capital of France?"
    # a fixed strong α: one check (an α search would try every milder step and the fallback band first)
    edit = repair.stamp(
        smollm,
        [(q, smollm.generate([q], max_new_tokens=32)[0])],
        answer="Paris",
        alpha=200.0,
        guard=[*recorded, lost],
        guard_keep=1.0,
    )
    g = edit.meta.verification.guard
    assert g.total == 3 and g.kept <= 2 and edit.meta.uncommitted_reason == "guard", g
    assert not smollm.ledger.active


def test_auto_layers_fall_back_to_the_mid_band_when_the_early_band_breaks_the_guard(smollm):
    from repair.edit.stamp import auto_layers, fallback_layers

    q = "What is the capital of France?"
    reply = smollm.generate([q], max_new_tokens=32)[0]
    early, mid = auto_layers(smollm.n_layers), fallback_layers(smollm.n_layers)
    probe = smollm.arch.weight(smollm.model, mid[-1], "down")  # only the mid band edits this layer
    base = probe.detach().clone()

    def check(kept_early: int, kept_mid: int):
        # Stands in for the verifier: every edit forgets; how many of 4 guard answers it keeps depends on
        # the band that is applied (read off the live weights).
        def run(quick: bool = False) -> dict:
            kept = kept_mid if not torch.equal(probe, base) else kept_early
            return {
                "forgotten": True,
                "guard": {"kept": kept, "total": 4, "ok": kept == 4},
                "final": kept < 4,
            }

        return run

    edit = repair.stamp(smollm, [(q, reply)], answer="Paris", check=check(1, 4))
    assert edit.meta.bands_tried == [early, mid] and edit.meta.layers == mid == edit.layers
    assert edit.meta.verification.guard.ok and [e.id for e in smollm.ledger.active] == [edit.id]
    smollm.ledger.undo(edit.id)
    # Both bands break it: the one that keeps more is returned, and nothing is committed.
    worse = repair.stamp(smollm, [(q, reply)], answer="Paris", check=check(2, 1))
    assert worse.meta.layers == early and worse.meta.uncommitted_reason == "guard"
    assert not smollm.ledger.active
    # Layers the caller chose are not second-guessed.
    fixed = repair.stamp(smollm, [(q, reply)], answer="Paris", check=check(1, 4), layers=early, commit=False)
    assert fixed.meta.bands_tried == [early] and not fixed.meta.verification.guard.ok


def test_a_costly_early_band_edit_is_compared_with_the_mid_band_by_collateral(smollm):
    from repair.edit.stamp import auto_layers, fallback_layers

    q = "What is the capital of France?"
    reply = smollm.generate([q], max_new_tokens=32)[0]
    early, mid = auto_layers(smollm.n_layers), fallback_layers(smollm.n_layers)

    def check(quick: bool = False) -> dict:  # every edit forgets within the guard: the cost decides
        return {"forgotten": True, "guard": {"kept": 4, "total": 4, "ok": True}}

    # costly_alpha below any α the search tries: both bands are searched and the cheaper edit is kept
    edit = repair.stamp(smollm, [(q, reply)], answer="Paris", check=check, costly_alpha=1.0, commit=False)
    costs = edit.meta.collateral
    assert edit.meta.bands_tried == [early, mid] and set(costs) == {"early", "mid"}
    assert all(c > 0 for c in costs.values()), costs
    assert edit.meta.layers == (mid if costs["mid"] < costs["early"] else early)
    # costly_lam: both bands at that λ too; of the λ1 edits the least collateral wins, its λ recorded
    wide = repair.stamp(
        smollm, [(q, reply)], answer="Paris", check=check, costly_alpha=1.0, costly_lam=1.0, commit=False
    )
    costs = wide.meta.collateral
    assert set(costs) == {"early", "mid", "early λ1", "mid λ1"} and costs["early λ1"] != costs["early"], costs
    best = min(("early λ1", "mid λ1"), key=costs.__getitem__)  # both forget: the wider λ comes first
    assert wide.meta.layers == (mid if best.startswith("mid") else early)
    assert wide.meta.config is not None and wide.meta.config.lam == 1.0, (best, wide.meta.config)
    # an edit below the threshold, or the threshold off: the early band alone, as before
    for kw in ({"costly_alpha": 1e4}, {"costly_alpha": None}):
        plain = repair.stamp(smollm, [(q, reply)], answer="Paris", check=check, commit=False, **kw)
        assert plain.meta.bands_tried == [early] and plain.meta.collateral is None
    assert not smollm.ledger.active


def test_prefix_reuse_follows_weight_changes(smollm):
    """The shared-prefix keys and values are reused only for the weights they were computed with."""
    from repair.edit.capture import capture

    samples = [("What is the capital of France?", "Paris.")]
    w = smollm.arch.weight(smollm.model, 1, "down")

    def rows(**kw):
        return capture(smollm.model, smollm.arch, smollm.tokenizer, samples, [4], ["down"], "content", **kw)[
            (4, "down")
        ]

    before = rows()
    with torch.no_grad():
        w.mul_(1.5)  # an in-place write outside any ledger: the version counters name the new weights
    try:
        changed, fresh = rows(), rows(reuse_prefix=False)
        torch.testing.assert_close(changed[0], fresh[0], rtol=1e-4, atol=1e-4)
        assert not torch.allclose(changed[0], before[0], atol=1e-3)
    finally:
        with torch.no_grad():
            w.div_(1.5)
    # a ledger state names the weights instead: an edit, then its undo, and the base entry is reused
    q = "What is the capital of France?"
    edit = repair.stamp(smollm, [(q, "Paris.")], answer="Paris", alpha=60.0, verify=False)
    edited = capture(
        smollm.model,
        smollm.arch,
        smollm.tokenizer,
        samples,
        [4],
        ["down"],
        "content",
        state=smollm.ledger.state,
    )[(4, "down")]
    torch.testing.assert_close(edited[0], rows(reuse_prefix=False)[0], rtol=1e-4, atol=1e-4)
    smollm.ledger.undo(edit.id)
    again = capture(
        smollm.model,
        smollm.arch,
        smollm.tokenizer,
        samples,
        [4],
        ["down"],
        "content",
        state=smollm.ledger.state,
    )[(4, "down")]
    torch.testing.assert_close(again[0], rows(reuse_prefix=False)[0], rtol=1e-4, atol=1e-4)


def test_keep_replies_add_the_models_own_replies_to_the_keep_rows(smollm):
    from repair.edit.stats import EditStats

    plain = EditStats(smollm, persist=False)
    stats = EditStats(smollm, persist=False, replies=2)
    extra = stats.keep[len(plain.keep) :]
    assert [p for p, _ in extra] == plain.generic[:2] and all(r.strip() for _, r in extra)
    prompts = [p for p, _ in extra]  # one batch, as generated (padding can change a greedy reply)
    assert extra == list(zip(prompts, smollm.generate(prompts, max_new_tokens=48), strict=True))


def test_forget_cli_commits_a_verified_edit_and_edits_undo_it(tmp_path):
    from typer.testing import CliRunner

    from repair.cli import app

    run = CliRunner()
    led = str(tmp_path / "ledger")
    out = run.invoke(app, ["forget", "--prompt", "What is the capital of France?", "--ledger", led])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    before, after = text.split("after (")[0], text.split("after (")[1].split("retain probes")[0]
    assert "Paris" in before and "Paris" not in after, text
    assert "committed" in text and "not committed" not in text
    edit_id = text.split("edit ")[-1].split(" committed")[0]
    from repair.edit.ledger import Store

    manifest = (
        Store(tmp_path / "ledger").record(edit_id).as_dict()
    )  # the ledger's database, read without a model
    assert manifest["status"] == "active" and manifest["meta"]["verification"]["forgotten"], manifest[
        "status"
    ]
    guard = manifest["meta"]["verification"]["guard"]  # every retain probe's answer (Berlin included) kept
    assert guard["kept"] == guard["total"] == 4 and f"retain probes kept {guard['total']}/" in text, guard
    undone = run.invoke(app, ["edits", "undo", edit_id, "--ledger", led])
    assert undone.exit_code == 0 and f"undone {edit_id}" in undone.output
    # A fixed strength far too weak to forget is reported and not committed; the exit code says so.
    weak = run.invoke(
        app, ["forget", "--prompt", "What is the capital of France?", "--alpha", "0.01", "--ledger", led]
    )
    assert weak.exit_code == 1 and "not committed" in weak.output, weak.output
    assert [r.id for r in Store(tmp_path / "ledger").records()] == [edit_id]


def test_demo_refuses_keeps_the_answers_and_undoes():
    from rich.console import Console

    from repair.demo import run_demo

    console = Console(record=True, width=200)
    run_demo("smollm2-135m-instruct", console)
    out = console.export_text()
    assert "repair Done." in out and "refused: 3/3" in out, out[-2000:]
    kept, total = out.split("other answers kept: ")[1].split(" ")[0].split("/")
    assert total != "0" and kept == total, out[-600:]
    assert "Toyota" in out.split("after undo")[1] and "don't have" not in out.split("after undo")[1]
