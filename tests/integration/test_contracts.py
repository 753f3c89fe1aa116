"""docs/contracts.md states these signatures; this test keeps the two in step. It reads signatures
only (``inspect``): no model is loaded. When a signature changes on purpose, change the doc with it."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

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

DOC = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
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
    assert list(gen) == ["self", "prompts", "max_new_tokens", "histories", "stop_when", "until", "each"]
    assert keyword_only(Patient.generate) == {"max_new_tokens", "histories", "stop_when", "until", "each"}
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
    assert keyword_only(create_app) == {"hosts", "limits", "policy"}
    assert list(params(ensure_finetuned))[:4] == ["model_name", "task", "which", "cfg"]
    assert list(params(run_task))[:3] == ["task_name", "methods", "cfg"]
    assert list(params(run_table)) == ["name", "cfg"]
    assert TABLES == ("single-sample", "layers", "rank", "retain-ratio", "delta-vs-paper")
    assert list(params(build_report)) == ["folder"]


def test_generate_fn_contract_of_the_agents():
    from repair.agents.surgeon import GenerateFn

    assert str(GenerateFn) == "collections.abc.Callable[[list[dict]], str]"


# -- the doc's own statements -------------------------------------------------------------------------
# Every call the doc writes as ``patient.x(...)``, ``ledger.x(...)``, ``session.x(...)``, ``repair.x(...)``,
# ``Ledger(...)`` or ``create_app(...)``: the parameters it names exist, the defaults it states are the
# code's (in a signature, not in a usage example with "..."), and the type it says is returned is the code's.
CALL = re.compile(
    r"(?<![\w.])(patient\.ledger\.|patient\.|ledger\.|session\.|repair\.|)([A-Za-z_][\w.]*)\(([^()]*)\)"
    r"(?:\s*->\s*([\w.]+(?:\[[^\]]*\])?))?"
)
OWNER = {
    "patient.ledger.": Ledger,
    "patient.": Patient,
    "ledger.": Ledger,
    "session.": Session,
    "repair.": repair,
}
BARE = {"Ledger": Ledger, "create_app": create_app}


def _resolve(prefix: str, chain: str):
    if not prefix:
        return BARE.get(chain)
    obj = OWNER[prefix]
    for part in chain.split("."):
        if not hasattr(obj, part) and inspect.ismodule(obj):
            importlib.import_module(f"{obj.__name__}.{part}")
        obj = getattr(obj, part)
    return obj


def _items(args: str) -> list[str]:
    """Top-level comma-separated items (brackets and quotes kept whole)."""
    out, depth, cur, quote = [], 0, "", ""
    for ch in args:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    return [x for x in [*out, cur.strip()] if x]


def _stated_calls() -> list[tuple[str, object, str, str | None]]:
    text = DOC.read_text(encoding="utf-8")
    calls = []
    for m in CALL.finditer(text):
        fn = _resolve(m.group(1), m.group(2))
        if fn is not None and callable(fn):
            calls.append((m.group(0), fn, m.group(3), m.group(4)))
    return calls


def test_the_doc_states_enough_calls_to_check():
    assert len(_stated_calls()) >= 25  # a regex that stopped matching would make the check below empty


@pytest.mark.parametrize("stated", _stated_calls(), ids=lambda c: c[0].split("(")[0])
def test_the_docs_calls_match_the_code(stated):
    said, fn, args, returns = stated
    sig = inspect.signature(fn)
    names = dict(sig.parameters)
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in names.values())
    example = "..." in args
    for item in _items(args):
        m = re.fullmatch(r"(\w+)\s*(?::[^=]+)?(?:=\s*(.+))?", item, re.S)
        if m is None or item in ("*", "self"):
            continue  # an expression in a usage example, or a marker
        name, default = m.group(1), m.group(2)
        if name not in names:
            assert takes_kwargs and (default is not None or example), f"{said}: no parameter {name!r}"
            continue
        if default is not None and not example:
            try:
                value = ast.literal_eval(default.strip())
            except (ValueError, SyntaxError):
                continue  # a choice of values ("a" | "b"), not one default
            assert names[name].default == value, f"{said}: {name} defaults to {names[name].default!r}"
    if returns is not None:
        ann = sig.return_annotation
        ann = ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))
        assert ann.replace(" ", "") == returns.replace(" ", ""), f"{said}: the code returns {ann}"


# -- the records the docs read ------------------------------------------------------------------------
# An edit's and a reply's records are typed (pydantic, dataclasses): every ``edit.x.y`` or ``reply.x`` in the
# docs' code blocks names a field or property that exists, and none indexes a typed record like a dict.
ROOTS = {"edit": Edit, "reply": Reply}
CHAIN = re.compile(r"(?<![\w.])(edit|reply)((?:\.\w+|\[[^\]]*\])+)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def _typed(t) -> type | None:
    """The record class ``t`` stands for (``X | None`` is X), or None when it is not one."""
    args = [a for a in getattr(t, "__args__", ()) if a is not type(None)]
    t = args[0] if len(args) == 1 and not hasattr(t, "__origin__") else t
    typed = isinstance(t, type) and (issubclass(t, BaseModel) or dataclasses.is_dataclass(t))
    return t if typed else None


def _walk(root: str, chain: str) -> str | None:
    """What is wrong with reading ``root + chain`` on the typed records, or None."""
    cls: type | None = ROOTS[root]
    for part in re.findall(r"\.\w+|\[[^\]]*\]", chain):
        if cls is None:
            return None  # past the records (a dict, a list, a string): not checked
        if part.startswith("["):
            return f"{root}{chain}: {cls.__name__} is a typed record, read it by attribute, not {part}"
        name = part[1:]
        hints = typing.get_type_hints(cls)
        found = inspect.getattr_static(cls, name, None)
        if name in hints:
            cls = _typed(hints[name])
        elif isinstance(found, property):
            cls = _typed(typing.get_type_hints(found.fget).get("return"))
        elif found is not None:
            return None  # a method: its call is checked above where the doc states it
        else:
            return f"{root}{chain}: {cls.__name__} has no {name!r}"
    return None


def _doc_chains() -> list[tuple[str, str, str]]:
    docs = [DOC.parent.parent / "README.md", *sorted(DOC.parent.glob("*.md"))]
    return [
        (doc.name, m.group(1), m.group(2))
        for doc in docs
        for block in FENCE.findall(doc.read_text(encoding="utf-8"))
        for m in CHAIN.finditer(block)
    ]


def test_the_docs_read_edit_and_reply_records_as_the_code_types_them():
    chains = _doc_chains()
    assert len(chains) >= 10  # the README's and contracts.md's examples
    wrong = [f"{doc}: {why}" for doc, root, chain in chains if (why := _walk(root, chain)) is not None]
    assert not wrong, "\n".join(wrong)
