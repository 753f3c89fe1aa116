"""docs/contracts.md states these signatures; this test keeps the two in step. It reads signatures
only (``inspect``): no model is loaded. When a signature changes on purpose, change the doc with it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import repair
from repair.edit.capture import capture
from repair.edit.delta import Edit
from repair.edit.ledger import Ledger
from repair.edit.patient import Patient
from repair.edit.stamp import StampConfig, guard_set
from repair.edit.verify import GUARD_KEEP
from repair.eval.finetune import ensure_finetuned
from repair.eval.report import build_report
from repair.eval.runner import TABLES, run_table, run_task
from repair.serve.app import create_app
from repair.session import Reply, Session

DOC = Path(__file__).resolve().parent.parent / "docs" / "contracts.md"
EMPTY = inspect.Parameter.empty


def params(fn) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(fn).parameters)


def defaults(fn) -> dict[str, object]:
    return {n: p.default for n, p in params(fn).items() if p.default is not EMPTY}


def keyword_only(fn) -> set[str]:
    return {n for n, p in params(fn).items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def test_the_doc_exists_and_is_linked():
    assert DOC.is_file()
    readme = (DOC.parent.parent / "README.md").read_text()
    assert "docs/CONTRACTS.md" not in readme


def test_patient():
    assert list(params(Patient.chat)) == ["self", "prompt", "history", "max_new_tokens"]
    assert defaults(Patient.chat) == {"history": None, "max_new_tokens": 64}
    gen = params(Patient.generate)
    assert list(gen) == ["self", "prompts", "max_new_tokens", "histories", "stop_when", "until"]
    assert keyword_only(Patient.generate) == {"max_new_tokens", "histories", "stop_when", "until"}
    # stop_when and until both take (i, reply)
    assert "Callable[[int, str], bool]" in str(gen["stop_when"].annotation)
    assert "Callable[[int, str], bool]" in str(gen["until"].annotation)
    assert list(params(Patient.chat_text)) == ["self", "messages"]
    assert isinstance(inspect.getattr_static(Patient, "dtype"), property)


def test_patient_generate_moves_inputs_to_the_device():
    assert ".device" in inspect.getsource(Patient.generate)


def test_load():
    assert defaults(repair.load) == {"name_or_path": "smollm2-135m-instruct", "ledger": True, "dtype": None}
    assert keyword_only(repair.load) == {"ledger", "dtype"}


def test_stamp_and_its_overrides():
    p = params(repair.stamp)
    assert list(p)[:2] == ["patient", "forget"]
    named = {"paraphrases", "answer", "config", "retain", "refusals", "commit", "verify", "requested_by"}
    assert named | {"check", "guard", "overrides"} <= set(p)
    assert p["overrides"].kind is inspect.Parameter.VAR_KEYWORD
    assert defaults(repair.stamp)["commit"] is True and defaults(repair.stamp)["verify"] is True
    # the overrides the doc names are StampConfig fields
    fields = set(StampConfig.model_fields)
    assert {"layers", "maps", "method", "rank", "solver", "alpha", "lam", "guard_keep"} <= fields
    assert StampConfig().guard_keep == pytest.approx(GUARD_KEEP) == pytest.approx(2 / 3)
    assert list(params(guard_set)) == ["patient", "prompts"]
    assert defaults(capture)["reuse_prefix"] is True and defaults(capture)["state"] is None


def test_edit():
    assert {"id", "meta", "timings"} <= set(Edit.__dataclass_fields__)
    assert isinstance(inspect.getattr_static(Edit, "layers"), property)
    assert isinstance(inspect.getattr_static(Edit, "maps"), property)


def test_ledger():
    assert list(params(Ledger.__init__))[1:5] == ["model", "arch", "fingerprint", "root"]
    assert keyword_only(Ledger.__init__) == {"scope", "aliases", "wait"}
    assert keyword_only(Ledger.commit) >= {"scope", "redact_turns"}
    assert defaults(Ledger.list) == {"include_undone": False, "scope": None}
    assert defaults(Ledger.show) == {"reveal": False}
    assert defaults(Ledger.purge) == {"edit_ids": None}
    for name in ("sync", "undo", "edits_for", "trial"):
        assert callable(getattr(Ledger, name)), name
    for name in ("version", "active", "state"):
        assert isinstance(inspect.getattr_static(Ledger, name), property), name


def test_session_and_reply():
    d = defaults(Session)
    assert {k: d[k] for k in ("watchdog", "surgeon", "k", "session_dir", "guard_budget")} == {
        "watchdog": None,
        "surgeon": None,
        "k": 4,
        "session_dir": None,
        "guard_budget": "base",
    }
    assert repair.Session is Session
    assert list(params(Session.open))[:3] == ["session_dir", "model", "dtype"]
    assert list(params(Session.send)) == ["self", "message", "history", "max_new_tokens"]
    assert defaults(Session.edits) == {"include_undone": False}
    for name in ("undo", "sync", "warm"):
        assert callable(getattr(Session, name)), name
    assert isinstance(inspect.getattr_static(Session, "history"), property)
    fields = ["text", "kind", "outcome", "edit_id", "target", "verification", "plan", "timings", "error"]
    assert list(Reply.model_fields) == fields
    assert set(Reply.model_fields["kind"].annotation.__args__) == {"chat", "unlearn", "error"}


def test_server_and_eval():
    assert list(params(create_app))[0] == "session"
    assert keyword_only(create_app) == {"hosts", "limits"}
    assert list(params(ensure_finetuned))[:4] == ["model_name", "task", "which", "cfg"]
    assert list(params(run_task))[:3] == ["task_name", "methods", "cfg"]
    assert list(params(run_table)) == ["name", "cfg"]
    assert TABLES == ("single-sample", "layers", "rank", "retain-ratio", "delta-vs-paper")
    assert list(params(build_report)) == ["folder"]


def test_generate_fn_contract_of_the_agents():
    from repair.agents.surgeon import GenerateFn

    assert str(GenerateFn) == "collections.abc.Callable[[list[dict]], str]"
