"""Resumable sequential runs: the run folder keeps what a rerun needs to continue where a run stopped.

- ``edits.jsonl``: one line per edit made (the target and its ``Applied``), in target order, appended as
  soon as the edit is made;
- ``ledger/``: the patient's ledger, persisted there during the run, so that a rerun re-applies the
  committed edits bit-exactly (the ledger resets the touched matrices from the base weights and adds
  the same deltas in the same order) instead of making them again;
- ``records.jsonl``, ``panel.jsonl`` and ``summary.json``'s curve: the checkpoints already scored;
- ``sample.json`` and ``panel-base.json``: the fixed sample and neighbour panel, and the panel's unedited
  replies (asked before any edit).

Methods that keep nothing in the ledger (the training baselines, ``icu``, ``none``) are resumed by making
their logged edits again, in the same order, without scoring them. An edit committed after the last line
of ``edits.jsonl`` (a kill in between) is undone, exactly, and made again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from repair.eval.unlearners import Applied, Unlearner

from .run import read_records
from .sequential import PANEL_RECORDS, PanelResult, Plan, item_id, request_for

EDITS = "edits.jsonl"
LEDGER = "ledger"


class LoggedEdit(BaseModel):
    target: str
    applied: Applied


class SeqState(BaseModel):
    """Where a sequential run stands: the edits made so far and the checkpoints scored so far."""

    applied: list[Applied] = Field(default_factory=list)
    curve: list[dict[str, Any]] = Field(default_factory=list)


def clear(out: Path) -> None:
    """Forget a previous run in ``out`` (``--no-resume``): its edits, ledger and records."""
    for name in (EDITS, "records.jsonl", PANEL_RECORDS, "sample.json", "panel-base.json"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / LEDGER, ignore_errors=True)


def open_ledger(patient: Any, out: Path) -> None:
    """Give the patient a ledger persisted in the run folder and re-apply the edits it holds."""
    from repair.edit.ledger import Ledger

    if patient.ledger.active:
        raise ValueError("the model already has edits applied: a sequential run starts from the base weights")
    patient.ledger = Ledger(patient.model, patient.arch, patient.fingerprint, out / LEDGER)
    patient.ledger.load()


def edit_logger(out: Path) -> Callable[[str, Applied], None]:
    path = out / EDITS

    def log(target: str, applied: Applied) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write(LoggedEdit(target=target, applied=applied).model_dump_json() + "\n")
            f.flush()

    return log


def read_edits(path: Path) -> list[LoggedEdit]:
    """The logged edits; a last line cut short by a kill is dropped (its edit is then undone and redone)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(LoggedEdit.model_validate_json(line))
        except ValueError:
            break
    return out


def restore(patient: Any, unlearner: Unlearner, plan: Plan, out: Path) -> SeqState:
    """Bring the model back to the last logged edit of a stopped run in ``out`` (its ledger is already
    open, see ``open_ledger``) and return the run's state; records of a checkpoint the summary does not
    list (a kill while it was written) are dropped, so that checkpoint is scored again."""
    logged = read_edits(out / EDITS)
    ids = [item_id(x) for x in plan.items]
    if [e.target for e in logged] != ids[: len(logged)]:
        raise ValueError(
            f"{out / EDITS} lists other targets than this run's first {len(logged)}: re-run with --no-resume"
        )
    logged_ids = {e.applied.edit_id for e in logged if e.applied.edit_id}
    for e in reversed(patient.ledger.active):  # committed, but killed before it was logged
        if e.id not in logged_ids:
            patient.ledger.undo(e.id)
    in_ledger = {e.id for e in patient.ledger.active}
    made = [e.applied.edit_id for e in logged if e.applied.edit_id]  # a failed request changed nothing
    if in_ledger and set(made) != in_ledger:
        raise ValueError(f"{out / LEDGER} holds only some of the logged edits: re-run with --no-resume")
    if not in_ledger:  # a method that keeps no ledger: make the edits again, in the same order
        for x in plan.items[: len(logged)]:
            unlearner.unlearn(patient, request_for(patient, x))
    curve = _curve(out, len(logged), plan)
    points = {p["edits"] for p in curve}
    records = out / "records.jsonl"
    _rewrite(records, [r for r in read_records(records) if r.after_edits in points])
    panel = [r for r in read_panel(out / PANEL_RECORDS) if r.after_edits in points]
    _rewrite(out / PANEL_RECORDS, panel)
    return SeqState(applied=[e.applied for e in logged], curve=curve)


def read_panel(path: Path) -> list[PanelResult]:
    if not path.exists():
        return []
    return [PanelResult.model_validate_json(ln) for ln in path.read_text().splitlines() if ln.strip()]


def _curve(out: Path, edits: int, plan: Plan) -> list[dict[str, Any]]:
    path = out / "summary.json"
    if not path.exists():
        return []
    summary = json.loads(path.read_text(encoding="utf-8"))
    cfg = summary.get("config", {})
    was = (cfg.get("every", plan.every), list(cfg.get("checkpoints") or []))
    if was != (plan.every, plan.checkpoints):
        raise ValueError(
            f"{out} was scored at other checkpoints (every {was[0]}, list {was[1]}): re-run with --no-resume"
        )
    return [p for p in summary.get("curve") or [] if p["edits"] <= edits]


def _rewrite(path: Path, results: Sequence[BaseModel]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(r.model_dump_json() + "\n" for r in results), encoding="utf-8")
    tmp.replace(path)
