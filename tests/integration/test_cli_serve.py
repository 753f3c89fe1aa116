"""`repair chat`, `repair serve` and `repair edits export --scope` as a user runs them (issues 22, 23):
bad input is one error line with exit code 2 (the traceback only with --debug), the server's limits are
options with checked ranges, and a scope's edits export as the adapter that a multi-LoRA server needs."""

from __future__ import annotations

import json
import socket
from types import SimpleNamespace

import pytest
import torch
from conftest import tiny_llama_for
from ledger_child import make_edit
from typer.testing import CliRunner

from repair.cli import app
from repair.edit.ledger import Ledger
from repair.models.arch import arch_for

pytestmark = pytest.mark.usefixtures("repair_home")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A tiny random Llama with SmolLM2's tokenizer, saved as a model folder (`--model FOLDER`)."""
    from transformers import AutoTokenizer

    from repair.models.loader import cache_bundled

    tok = AutoTokenizer.from_pretrained(cache_bundled("smollm2-135m-instruct", progress=False))
    folder = tmp_path_factory.mktemp("models") / "tiny"
    tiny_llama_for(tok, positions=256).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def one_line_error(r, text: str) -> None:
    assert r.exit_code == 2, r.output
    out = " ".join(line.strip() for line in r.output.splitlines())  # rich may wrap a long line at 80 columns
    assert "Traceback" not in out and out.count("error:") == 1, r.output
    out = out[out.index("error: ") :]  # after "loaded …" when the model did load
    assert text in out, r.output


def _ledger(root, folder) -> Ledger:
    """The ledger that `repair.load(folder, ledger=root)` opens (same fingerprint)."""
    from transformers import AutoModelForCausalLM

    from repair.models.loader import resolve

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    led = Ledger(model, arch_for(model), resolve(str(folder))[2], root)
    led.load()
    return led


def test_serve_and_chat_refuse_bad_input_in_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text("not toml [[")
    (tmp_path / "empty.toml").write_text("[[key]]\nname = 'a'\nkey = 'short'\n")
    (tmp_path / "a-file").write_text("")
    s = str(tmp_path / "s")
    one_line_error(cli("serve", "--session", s, "--keys", str(tmp_path / "bad.toml")), "bad.toml")
    one_line_error(
        cli("serve", "--session", s, "--keys", str(tmp_path / "nope.toml")), "cannot read the keys file"
    )
    one_line_error(
        cli("serve", "--session", s, "--keys", str(tmp_path / "empty.toml")), "key: String should have"
    )
    one_line_error(cli("serve", "--session", s, "--policy", str(tmp_path / "bad.toml")), "policy file")
    one_line_error(cli("serve", "--session", str(tmp_path / "a-file")), "is a file: give a folder")
    one_line_error(cli("chat", "--session", str(tmp_path / "a-file")), "is a file: give a folder")
    with socket.socket() as busy:  # a port in use is refused before the model loads
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        one_line_error(
            cli("serve", "--session", s, "--port", port), f"port {port} on 127.0.0.1 is already in use"
        )
    one_line_error(
        cli("serve", "--session", s, "--model", "no-such-model", "--port", "0"),
        "unknown model 'no-such-model'",
    )
    one_line_error(cli("chat", "--session", s, "--model", "no-such-model"), "unknown model 'no-such-model'")
    r = cli("--debug", "serve", "--session", str(tmp_path / "a-file"))
    assert isinstance(r.exception, ValueError)  # --debug: the exception itself, with its traceback
    r = cli("serve", "--session", s, "--max-queue", "0")  # out of range: typer's usage error
    assert r.exit_code == 2 and "--max-queue" in r.output


def test_a_ledger_from_another_model_is_one_line(tmp_path, tiny_folder):
    other = tiny_llama_for(_tok(tiny_folder), positions=256)
    led = Ledger(other, arch_for(other), "sha256:another-model", tmp_path / "s" / "ledger")
    led.commit(make_edit("e1", 1))
    r = cli("serve", "--session", str(tmp_path / "s"), "--model", str(tiny_folder), "--port", "0")
    one_line_error(r, "belongs to another base model")
    one_line_error(
        cli("chat", "--session", str(tmp_path / "s"), "--model", str(tiny_folder)), "another base model"
    )
    mine = _ledger(tmp_path / "s2" / "ledger", tiny_folder)  # this model's weights, another model's session
    with mine.store.write() as conn:
        mine.store.set_info(conn, "model", "smollm2-135m-instruct")
    for cmd in (["serve", "--port", "0"], ["chat"]):  # port 0: never in use
        r = cli(*cmd, "--session", str(tmp_path / "s2"), "--model", str(tiny_folder))
        one_line_error(r, "belongs to model 'smollm2-135m-instruct', not 'tiny'")
    r = cli(
        "edits",
        "export",
        str(tmp_path / "out"),
        "--session",
        str(tmp_path / "s"),
        "--model",
        str(tiny_folder),
    )
    one_line_error(r, "belongs to another base model")


def test_serve_limits_are_checked_against_the_model(tmp_path, tiny_folder):
    from repair.serve.hub import Limits

    r = cli(
        "serve",
        "--session",
        str(tmp_path / "s"),
        "--model",
        str(tiny_folder),
        "--max-tokens",
        "300",
        "--port",
        "0",
    )
    one_line_error(r, "max_tokens 300 must be below the model's context of 256")
    help_text = cli("serve", "--help").output
    for opt in ("--max-queue", "--timeout", "--edit-timeout", "--max-body", "--max-tokens"):
        assert opt in help_text
    model = SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(max_position_embeddings=256)))
    with pytest.raises(ValueError, match="^max_queue: Input should be less than or equal to 1024$"):
        Limits.for_model(model, max_queue=5000)


def test_serve_limits_reach_the_server(tiny_folder):
    from fastapi.testclient import TestClient

    import repair
    from repair.serve.app import create_app
    from repair.serve.hub import Limits
    from repair.session import Session

    patient = repair.load(str(tiny_folder), ledger=False)
    lim = Limits.for_model(patient, 16, max_body=2048, max_tokens=8, max_queue=3, timeout_s=5.0)
    assert (lim.max_body, lim.max_tokens, lim.max_queue, lim.timeout_s) == (2048, 8, 3, 5.0)
    application = create_app(Session(patient, max_new_tokens=16), hosts={"testserver"}, limits=lim)
    key = {"Authorization": f"Bearer {application.state.local_key}"}
    with TestClient(application) as c:
        big = {"messages": [{"role": "user", "content": "x" * 3000}]}
        assert c.post("/v1/chat/completions", headers=key, json=big).status_code == 413
        r = c.post("/v1/chat/completions", headers=key, json={"messages": [{"role": "user", "content": "hi"}],
                                                               "max_tokens": 9})  # fmt: skip
        assert r.status_code == 400 and "between 1 and 8" in r.text
    assert application.state.hub.worker.queue.maxsize == 3


def test_serve_without_session_keeps_one_folder_per_model(tmp_path, monkeypatch):
    """`repair serve --model M --port P --keys K` as the issue gives it: no --session needed."""
    import os

    import repair.serve.app

    got: list[tuple] = []
    monkeypatch.setattr(
        repair.serve.app, "serve", lambda model, folder, **kw: got.append((model, folder, kw))
    )
    keys = tmp_path / "k.toml"
    keys.write_text('[[key]]\nname = "alice"\nkey = "sk-alice-0123456789abcdef"\n')
    r = cli("serve", "--model", "smollm2-135m-instruct", "--port", "8011", "--keys", str(keys))
    home = os.environ["REPAIR_HOME"]
    assert r.exit_code == 0, r.output
    assert got[0][:2] == ("smollm2-135m-instruct", f"{home}/sessions/smollm2-135m-instruct")
    assert got[0][2]["port"] == 8011 and got[0][2]["keys_file"] == str(keys)
    assert got[0][2]["policy_file"] is None
    (tmp_path / "p.toml").write_text("[review]\nenabled = false\n")
    assert cli("serve", "--policy", str(tmp_path / "p.toml")).exit_code == 0
    assert got[1][1] == f"{home}/sessions/smollm2-135m-instruct" and got[1][2]["policy_file"] == str(
        tmp_path / "p.toml"
    )
    assert cli("serve", "--model", str(tmp_path / "my model/")).exit_code == 0
    assert got[2][1] == f"{home}/sessions/my_model"


def _tok(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


VLLM_DEFAULT_MAX_LORA_RANK = 16


def check_vllm_adapter(folder, model) -> dict:
    """What vLLM's LoRA loader asks of an adapter folder (vllm/lora/peft_helper.py and the tensor names it
    parses), checked here without vLLM: the PEFT fields it requires, no modules_to_save, DoRA or bias, one
    scaling lora_alpha / r (it ignores PEFT's per-module patterns), every module's rank within r (the value
    it checks against --max-lora-rank), tensors of the model's Linear modules under their PEFT names, and
    no absolute path in base_model_name_or_path."""
    import re
    from pathlib import PurePosixPath, PureWindowsPath

    from safetensors.torch import load_file

    cfg = json.loads((folder / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and {"r", "lora_alpha", "target_modules"} <= cfg.keys()
    assert not cfg.get("modules_to_save") and not cfg.get("use_dora") and cfg.get("bias", "none") == "none"
    assert cfg["lora_alpha"] / cfg["r"] == 1 and not cfg.get("use_rslora")
    base = cfg["base_model_name_or_path"]
    assert not PurePosixPath(base).is_absolute() and not PureWindowsPath(base).is_absolute(), base
    modules = dict(model.named_modules())
    ranks = {}
    for name, t in load_file(folder / "adapter_model.safetensors").items():
        m = re.fullmatch(r"base_model\.model\.(.+)\.lora_([AB])\.weight", name)
        assert (
            m and isinstance(modules.get(m.group(1)), torch.nn.Linear) and m.group(1) in cfg["target_modules"]
        )
        ranks[m.group(1)] = t.shape[0] if m.group(2) == "A" else t.shape[1]
    assert max(ranks.values()) == cfg["r"] <= VLLM_DEFAULT_MAX_LORA_RANK
    return ranks


def test_export_one_scope_as_lora_and_merged(tmp_path, tiny_folder):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    led = _ledger(tmp_path / "ledger", tiny_folder)
    led.commit(make_edit("g1", 1, layer=0))  # global: merged into every scope's weights
    led.commit(make_edit("a1", 2, layer=1), scope="alice")
    led.commit(make_edit("a2", 3, layer=0), scope="alice")
    led.commit(make_edit("a3", 5, layer=1), scope="alice")  # layer 1 then has rank 4, layer 0 rank 2
    led.commit(make_edit("b1", 4, layer=1), scope="bob")
    base = AutoModelForCausalLM.from_pretrained(tiny_folder).eval()
    want = {}
    for scope in ("alice", "bob"):
        edited = AutoModelForCausalLM.from_pretrained(tiny_folder).eval()
        for e in led.edits_for(scope):  # global first, then the scope's, as the server applies them
            e.apply(edited, arch_for(edited))
        want[scope] = edited
    ids = torch.randint(0, base.config.vocab_size, (2, 10))
    common = ["--ledger", str(tmp_path / "ledger"), "--model", str(tiny_folder)]
    assert cli("edits", "export", str(tmp_path / "global"), "--format", "merged", *common).exit_code == 0
    assert json.loads((tmp_path / "global" / "repair_edits.json").read_text()) == ["g1"]
    for scope, own in (("alice", ["a1", "a2", "a3"]), ("bob", ["b1"])):
        r = cli("edits", "export", str(tmp_path / scope), "--scope", scope, *common)
        assert r.exit_code == 0 and "3 edit(s)" in r.output if scope == "alice" else r.exit_code == 0, (
            r.output
        )
        assert json.loads((tmp_path / scope / "repair_edits.json").read_text()) == own  # no other scope's
        ranks = check_vllm_adapter(tmp_path / scope, base)
        assert sorted(ranks.values()) == ([2, 4] if scope == "alice" else [2])
        merged_global = AutoModelForCausalLM.from_pretrained(tmp_path / "global").eval()
        served = PeftModel.from_pretrained(merged_global, tmp_path / scope).eval()  # as vLLM would serve it
        r = cli(
            "edits",
            "export",
            str(tmp_path / f"{scope}-merged"),
            "--scope",
            scope,
            "--format",
            "merged",
            *common,
        )
        assert r.exit_code == 0, r.output
        merged = AutoModelForCausalLM.from_pretrained(tmp_path / f"{scope}-merged").eval()
        with torch.no_grad():
            expected = want[scope](ids).logits
            assert (served(ids).logits - expected).abs().max() < 1e-4
            assert (merged(ids).logits - expected).abs().max() < 1e-5
            assert (base(ids).logits - expected).abs().max() > 1e-3  # the edits did change something
    one_line_error(
        cli("edits", "export", str(tmp_path / "x"), "--scope", "carol", *common), "no active edits in scope"
    )
    one_line_error(cli("edits", "export", str(tmp_path / "x"), "--format", "gguf", *common), "unknown format")
