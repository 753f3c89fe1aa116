"""STAMP's typed pieces: the settings and their per-model YAML, the closed-form solve and the α search,
on a tiny random Llama with the real SmolLM2 tokenizer (the statistics are computed on it, in a
temporary REPAIR_HOME)."""

from __future__ import annotations

from importlib.resources import files

import pytest
import torch
import yaml
from conftest import tiny_llama_for

import repair
from repair.edit.record import GuardCheck, Verification
from repair.edit.stamp import SearchPolicy, StampConfig, StampSpec, load_hparams, parse_overrides
from repair.edit.stamp.config import make_config
from repair.edit.stamp.search import alpha_schedule

STATS: dict = {"keep_replies": 0}  # and the short refusal set the fixture writes
Q, R = "What is the capital of Zembla?", "The capital of Zembla is Qwertyville."


def test_config_is_the_spec_and_the_policy():
    spec, policy = set(StampSpec.model_fields), set(SearchPolicy.model_fields)
    assert not spec & policy and spec | policy == set(StampConfig.model_fields)
    assert {"layers", "maps", "lam", "solver", "recipe"} <= spec and {"alpha_start", "costly_alpha"} <= policy
    cfg = StampConfig(lam=0.5, alpha_margin=1.5)
    assert cfg.spec == StampSpec(lam=0.5) and cfg.policy == SearchPolicy(alpha_margin=1.5)


def test_the_shipped_yaml_holds_the_code_defaults():
    """SmolLM2's file documents the search values; a model without a file gets the same ones, so the
    file must not drift from the defaults unless both are changed on purpose."""
    data = load_hparams("smollm2-135m-instruct")
    assert data and set(data) <= set(SearchPolicy.model_fields)
    assert {k: getattr(StampConfig(), k) for k in data} == data
    assert load_hparams("no-such-model") == {}


def test_yaml_loader_rejects_unknown_keys_and_bad_values(tmp_path):
    (tmp_path / "m.yaml").write_text("alpha_start: 5\nalpha_strat: 6\n")
    with pytest.raises(ValueError, match=r"m\.yaml: unknown STAMP setting\(s\) alpha_strat"):
        load_hparams("m", root=tmp_path)
    (tmp_path / "m.yaml").write_text("alpha_growth: 0.5\n")
    with pytest.raises(ValueError, match=r"(?s)m\.yaml:.*alpha_growth"):
        load_hparams("m", root=tmp_path)
    (tmp_path / "m.yaml").write_text("- alpha_start\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        load_hparams("m", root=tmp_path)
    (tmp_path / "m.yaml").write_text("alpha_start: 5\n")
    assert load_hparams("m", root=tmp_path) == {"alpha_start": 5}


def test_make_config_layers_yaml_config_and_overrides(tmp_path, monkeypatch):
    import repair.edit.stamp.config as config

    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"alpha_start": 5.0, "lam": 0.3}))
    monkeypatch.setattr(config, "load_hparams", lambda model: load_hparams(model, root=tmp_path))
    assert make_config("m").alpha_start == 5.0 and make_config("m").lam == 0.3
    # the fields set on a config win over the file; its defaults do not
    got = make_config("m", StampConfig(lam=0.2))
    assert (got.alpha_start, got.lam) == (5.0, 0.2)
    got = make_config("m", StampConfig(lam=0.2), {"lam": 0.4, "alpha_start": 9})
    assert (got.alpha_start, got.lam) == (9.0, 0.4)
    assert make_config("other") == StampConfig()
    assert make_config("m", StampConfig.model_validate(StampConfig().model_dump())) == StampConfig()


def test_parse_overrides_names_the_fields():
    assert parse_overrides(["layers=[4,5]", "recipe=paper"]) == {"layers": [4, 5], "recipe": "paper"}
    with pytest.raises(ValueError, match="costly_lam"):
        parse_overrides(["costly_lamb=1"])


def test_alpha_schedule():
    assert alpha_schedule(SearchPolicy(alpha_max=10, alpha_growth=2), 1.0) == [1.0, 2.0, 4.0, 8.0]
    assert alpha_schedule(SearchPolicy(alpha_max=10), 11.0) == []


# -- on a tiny Llama ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    from transformers import AutoTokenizer

    from repair.edit.patient import Patient
    from repair.models.loader import cache_bundled

    tok = AutoTokenizer.from_pretrained(cache_bundled("smollm2-135m-instruct", progress=False))
    home = tmp_path_factory.mktemp("home")
    # a short reference refusal set: the refusal directions then take seconds, not minutes
    refusals = files("repair.data").joinpath("refusals.jsonl").read_text(encoding="utf-8")
    (home / "refusals.jsonl").write_text("".join(refusals.splitlines(True)[:12]), encoding="utf-8")
    STATS["refusals"] = str(home / "refusals.jsonl")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REPAIR_HOME", str(home))
        p = Patient(
            tiny_llama_for(tok, layers=4), tok, name="tiny", source="", fingerprint="t", ledger_dir=None
        )
        repair.prepare(p, **STATS)  # the statistics, computed once with REPAIR_HOME in tmp
        yield p


def _stamp(patient, **kw):
    return repair.stamp(patient, [(Q, R)], answer="Qwertyville", paraphrases=[], commit=False, **STATS, **kw)


def _norm_check(patient, forgets_at: float, unit: float, breaks_above: float | None = None):
    """A check that reads the live weights: an edit forgets when its change of layer 1's down map is at
    least ``forgets_at`` times ``unit`` (the change at α = 1), and keeps the guard up to ``breaks_above``."""
    w = patient.arch.weight(patient.model, 1, "down")
    base = w.detach().clone()

    def check(quick: bool = False) -> Verification:
        size = float((w.detach() - base).norm()) / unit
        out = Verification(forgotten=size >= forgets_at * (1 - 1e-4))
        if breaks_above is not None:
            ok = size <= breaks_above * (1 + 1e-4)
            out.guard, out.final = GuardCheck(kept=int(ok), total=1, ok=ok), not ok
        return out

    return check


def _unit(patient) -> float:
    edit = _stamp(patient, layers=[1, 2], alpha=1.0, verify=False)
    return float(next(d for d in edit.deltas if d.layer == 1).matrix().norm())


def test_the_solve_moves_the_forget_key_exactly_and_linearly_in_alpha(patient):
    one = _stamp(patient, layers=[1, 2], alpha=1.0, verify=False)
    three = _stamp(patient, layers=[1, 2], alpha=3.0, verify=False)
    for d1, d3 in zip(one.deltas, three.deltas, strict=True):
        assert (d1.layer, d1.map) == (d3.layer, d3.map) and d1.keys.shape[0] == 1  # pool="mean": one key
        torch.testing.assert_close(d3.matrix(), 3 * d1.matrix(), rtol=1e-4, atol=1e-6)
        # solver="exact": the key's output moves by its target (R^T), up to the 1e-6 regularisation
        moved = d1.matrix() @ d1.keys[0]
        target = d1.b[:, 0]
        assert target.norm() > 0 and (moved - target).norm() / target.norm() < 1e-3
    assert one.meta.alpha == 1.0 and one.meta.verification is None and one.meta.layers == [1, 2]


def test_the_held_prefix_gets_no_output_and_the_key_still_lands(patient):
    """keep_prefix (the default): each map's update gives the chat template's shared prefix (the system
    prompt every conversation reads first) no output, with the exact and the ridge solver, while the
    forget key still moves by its target; without the hold the prefix moves."""
    from repair.edit.capture import template_prefix_keys

    prefix = template_prefix_keys(patient.model, patient.arch, patient.tokenizer, [1, 2])

    def spill(edit) -> float:
        return max(
            float((m @ prefix[(d.layer, d.map)].T).abs().max() / (m @ d.keys.double().T).abs().max())
            for d in edit.deltas
            for m in [d.matrix().double()]
        )

    held = {s: _stamp(patient, layers=[1, 2], alpha=1.0, verify=False, solver=s) for s in ("exact", "delta")}
    free = _stamp(patient, layers=[1, 2], alpha=1.0, verify=False, keep_prefix=False)
    assert max(map(spill, held.values())) < 1e-5 < spill(free)
    for d in held["exact"].deltas:
        moved, target = d.matrix() @ d.keys[0], d.b[:, 0]
        assert (moved - target).norm() / target.norm() < 1e-3


def test_a_row_an_earlier_edit_moved_goes_only_the_rest_of_the_way(patient):
    """absolute (the default): the target is a state past where the row was before any edit, so asking
    again for what a committed edit already did gives (almost) no update, and asking for twice the
    strength gives the other half; without it the same request moves the row a second full step."""
    first = _stamp(patient, layers=[1, 2], alpha=1.0, verify=False)
    patient.ledger.commit(first)
    try:
        again = _stamp(patient, layers=[1, 2], alpha=1.0, verify=False)
        double = _stamp(patient, layers=[1, 2], alpha=2.0, verify=False)
        relative = _stamp(patient, layers=[1, 2], alpha=1.0, verify=False, absolute=False)
    finally:
        patient.ledger.undo(first.id)
    for d1, d0, d2, dr in zip(first.deltas, again.deltas, double.deltas, relative.deltas, strict=True):
        size = d1.b.norm()
        assert d0.b.norm() < 1e-4 * size
        # (within a few per cent: the keys above layer 1 are read with its first edit in place)
        assert abs(d2.b.norm() - size) < 0.05 * size and abs(dr.b.norm() - size) < 0.05 * size


def test_search_returns_the_smallest_alpha_that_passes(patient):
    unit = _unit(patient)
    policy = dict(alpha_start=1.0, alpha_growth=2.0, alpha_max=64.0)
    edit = _stamp(patient, layers=[1, 2], alpha_margin=1.0, check=_norm_check(patient, 5.0, unit), **policy)
    assert edit.meta.alpha == 8.0 and edit.meta.verification.forgotten
    # with a margin the edit checked (and returned) is α × margin, for the smallest α whose product passes
    edit = _stamp(patient, layers=[1, 2], alpha_margin=1.5, check=_norm_check(patient, 5.0, unit), **policy)
    assert edit.meta.alpha == 6.0 and edit.meta.verification.forgotten
    assert float(next(d for d in edit.deltas if d.layer == 1).matrix().norm()) / unit == pytest.approx(
        6.0, rel=1e-3
    )
    # nothing passes: the strongest step is returned, not forgotten
    edit = _stamp(patient, layers=[1, 2], alpha_margin=1.0, check=_norm_check(patient, 1e9, unit), **policy)
    assert edit.meta.alpha == 64.0 and not edit.meta.verification.forgotten
    assert edit.meta.bands_tried == [[1, 2]] and edit.meta.config.alpha_start == 1.0


def test_a_margin_that_breaks_the_guard_falls_back_to_a_milder_strength(patient):
    unit = _unit(patient)
    policy = dict(alpha_start=1.0, alpha_growth=2.0, alpha_max=64.0, alpha_margin=4.0)
    # α 1 × 4 forgets but breaks the guard (above 3); α × √4 = 2 forgets (≥ 1.5) within it
    edit = _stamp(patient, layers=[1, 2], check=_norm_check(patient, 1.5, unit, breaks_above=3.0), **policy)
    assert edit.meta.alpha == 2.0 and edit.meta.verification.guard.ok
    assert edit.meta.uncommitted_reason is None
    # no milder strength forgets: the guard-breaking edit is returned, and not committed
    edit = repair.stamp(
        patient,
        [(Q, R)],
        answer="Qwertyville",
        paraphrases=[],
        **STATS,
        layers=[1, 2],
        check=_norm_check(patient, 4.0, unit, breaks_above=3.0),
        **policy,
    )
    assert edit.meta.alpha == 4.0 and edit.meta.uncommitted_reason == "guard"
    assert not patient.ledger.active


def test_a_fixed_alpha_is_checked_once_and_bad_settings_fail_early(patient):
    unit = _unit(patient)
    calls, inner = [], _norm_check(patient, 1.0, unit)

    def check(quick: bool = False) -> Verification:
        calls.append(quick)
        return inner(quick)

    edit = _stamp(patient, layers=[1, 2], alpha=2.0, check=check)
    assert calls == [False] and edit.meta.alpha == 2.0 and edit.meta.verification.forgotten
    with pytest.raises(ValueError, match="above alpha_max"):
        _stamp(patient, layers=[1, 2], alpha_start=1000.0, check=check)
    with pytest.raises(ValueError, match="out of range"):
        _stamp(patient, layers=[7], alpha=1.0, verify=False)
    with pytest.raises(ValueError, match="alpha_strat"):
        _stamp(patient, alpha_strat=1.0)
