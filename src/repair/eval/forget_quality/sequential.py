"""Sequential runs: targets forgotten one after another in one model, a curve scored at checkpoints.

Checkpoints are every ``every`` edits, or a list (``--checkpoints 10,30,100,300,1000``), and always the
last edit. At each one the targets of the scored sample edited so far are asked again; with a fixed
sample (``--sample``), also a fixed panel of as many neighbour questions, judged against the unedited
model's replies to the same batch. With ``--fillers`` the run edits the fixed sample first and then filler
facts (``fillers.py``) up to N edits, so a 1,000-edit run needs no 1,000 hand-written targets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from repair.eval.unlearners import Applied, ForgetRequest, Unlearner

from .data import MAX_NEW_TOKENS, KnownTarget, chat_history, file_sha256
from .fillers import FillerFact, FillerSet, PanelItem, SampleRecord, Vocabulary, target_text
from .run import (
    NeighbourResult,
    Scored,
    TargetResult,
    Utility,
    evaluate,
    forget_request,
    sample_indices,
    score_neighbours,
    summarize,
)

SAMPLE_FILE = "sample.json"
PANEL_BASE = "panel-base.json"
PANEL_RECORDS = "panel.jsonl"


class Plan(BaseModel):
    """What a sequential run edits, in order, and what it scores at each checkpoint."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    items: list[Scored | FillerFact]  # in edit order
    scored: list[int]  # indices into ``items`` of the targets asked again at each checkpoint
    checkpoints: list[int]  # empty: every ``every`` edits
    every: int
    panel: list[PanelItem] = []
    panel_base: list[str] = []  # the unedited model's replies to the panel (one batch)

    def is_checkpoint(self, n: int) -> bool:
        if n == len(self.items):
            return True
        return n in self.checkpoints if self.checkpoints else n % self.every == 0


class PanelResult(BaseModel):
    after_edits: int
    neighbours: list[NeighbourResult]


def item_id(item: Scored | FillerFact) -> str:
    return item.target.id if isinstance(item, Scored) else item.id


def request_for(patient: Any, item: Scored | FillerFact) -> ForgetRequest:
    """A target's chat request (``forget_request``); a filler's: its question and the model's reply to it,
    as a user who asked and then said "forget that"."""
    if isinstance(item, Scored):
        return forget_request(patient, item.target)
    from repair.session.verify import stated_pairs

    reply = patient.generate([item.prompt], max_new_tokens=MAX_NEW_TOKENS)[0]
    pairs = stated_pairs([(item.prompt, reply)])
    return ForgetRequest(subject=item.subject, pairs=pairs or [(item.prompt, reply)], request=item.request)


def make_plan(
    items: Sequence[Scored],
    known: dict[str, KnownTarget],
    *,
    sequential: int,
    every: int,
    checkpoints: Sequence[int] = (),
    sample: int | None = None,
    fillers: FillerSet | None = None,
) -> Plan:
    """The edit order and the scored sample. Without fillers: the first N targets, scoring all of them or
    an evenly spaced sample. With fillers: the fixed sample (``fixed_sample``) first, then fillers up to N
    edits; every filler is checked not to name anything the sample or the panel asks about."""
    from .fillers import fixed_sample, neighbour_panel

    if checkpoints and (list(checkpoints) != sorted(set(checkpoints)) or checkpoints[0] < 1):
        raise ValueError(f"checkpoints must be increasing positive edit counts, got {list(checkpoints)}")
    if checkpoints and checkpoints[-1] > sequential:
        raise ValueError(f"checkpoint {checkpoints[-1]} lies past the run's {sequential} edits")
    targets = [s.target for s in items]
    if fillers is None:
        chosen = list(items[:sequential])
        scored = sample_indices(len(chosen), sample) if sample else list(range(len(chosen)))
        panel = neighbour_panel(targets, known, [s.target for s in chosen], sample) if sample else []
        return Plan(items=chosen, scored=scored, checkpoints=list(checkpoints), every=every, panel=panel)
    if not sample:
        raise ValueError("--fillers needs --sample: the targets edited first and scored at each checkpoint")
    picked = {t.id for t in fixed_sample(targets, sample)}
    head = [s for s in items if s.target.id in picked][:sequential]
    panel = neighbour_panel(targets, known, [s.target for s in head], sample)
    need = sequential - len(head)
    if need > len(fillers.facts):
        raise ValueError(
            f"{sequential} edits need {need} filler facts; {fillers.model}'s set has {len(fillers.facts)}"
        )
    stale = [k for k, v in fillers.split_sha256.items() if v != file_sha256(k)]
    if stale:
        raise ValueError(f"the {stale} split(s) changed since the fillers were checked: remake the fillers")
    tail = fillers.facts[:need]
    _check_overlap(tail, [s.target for s in head], panel)
    return Plan(
        items=[*head, *tail], scored=list(range(len(head))), checkpoints=list(checkpoints), every=every, panel=panel
    )  # fmt: skip


def _check_overlap(facts: Sequence[FillerFact], sample: Sequence[Any], panel: Sequence[PanelItem]) -> None:
    vocab = Vocabulary(
        [target_text(t) for t in sample] + [f"{p.question.prompt} {' '.join(p.question.keys)}" for p in panel]
    )
    bad = [f.id for f in facts if any(vocab.names(x) for x in f.names)]
    if bad:
        raise ValueError(
            f"filler facts name what the sample or panel asks about: {bad[:5]} (remake the fillers)"
        )


def sample_record(plan: Plan, fillers: FillerSet | None) -> SampleRecord:
    import hashlib

    fillers_in = [x for x in plan.items if isinstance(x, FillerFact)]
    sha = hashlib.sha256(fillers.model_dump_json().encode()).hexdigest() if fillers else None
    return SampleRecord(
        targets=[item_id(plan.items[i]) for i in plan.scored],
        panel=plan.panel,
        fillers=len(fillers_in),
        fillers_sha256=sha,
    )


def keep_sample(out: Path, record: SampleRecord) -> None:
    """Write the run's sample to ``sample.json``; a resumed run must score the same one."""
    path = out / SAMPLE_FILE
    if path.exists() and SampleRecord.model_validate_json(path.read_text()) != record:
        raise ValueError(
            f"{path} records another sample or filler set (now fillers {record.fillers_sha256}): re-run with "
            "--no-resume"
        )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(record.model_dump_json(indent=1) + "\n", encoding="utf-8")


def ask_panel(patient: Any, panel: Sequence[PanelItem], system: str | None = None) -> list[str]:
    """The panel's replies, as one batch (the same batch every time: greedy decoding is batch-exact)."""
    pre = [{"role": "system", "content": system}] if system else []
    return patient.generate(
        [p.question.prompt for p in panel],
        max_new_tokens=MAX_NEW_TOKENS,
        histories=[pre + chat_history(p.question) for p in panel],
    )


def panel_base(patient: Any, plan: Plan, out: Path) -> Plan:
    """The unedited model's panel replies (cached in the run folder; asked before any edit is applied)."""
    if not plan.panel:
        return plan
    path = out / PANEL_BASE
    ids = [p.id for p in plan.panel]
    cached = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if cached.get("ids") != ids:
        cached = {"ids": ids, "replies": ask_panel(patient, plan.panel)}
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cached, ensure_ascii=False, indent=0), encoding="utf-8")
    return plan.model_copy(update={"panel_base": cached["replies"]})


def score_panel(patient: Any, plan: Plan, system: str | None, n: int) -> PanelResult:
    replies = ask_panel(patient, plan.panel, system)
    qs = [p.question for p in plan.panel]
    return PanelResult(
        after_edits=n, neighbours=score_neighbours(qs, [p.type for p in plan.panel], replies, plan.panel_base)
    )


def panel_point(res: PanelResult) -> dict[str, Any]:
    kept = [x.kept for x in res.neighbours]
    types = dict.fromkeys(x.type for x in res.neighbours)
    return {
        "panel_kept": round(sum(kept) / len(kept), 4) if kept else None,
        "panel_n": len(kept),
        "panel_by_type": {
            t: round(sum(x.kept for x in res.neighbours if x.type == t) / sum(x.type == t for x in res.neighbours), 4)
            for t in types
        },
    }  # fmt: skip


def run_sequential(
    patient: Any,
    unlearner: Unlearner,
    plan: Plan,
    *,
    utility: Utility | None,
    write: Callable[[TargetResult], None],
    write_panel: Callable[[PanelResult], None] | None = None,
    progress: Any = None,
    on_point: Callable[[list[dict[str, Any]]], None] | None = None,
    done: tuple[list[Applied], list[dict[str, Any]]] = ([], []),
    on_edit: Callable[[str, Applied], None] | None = None,
) -> list[dict[str, Any]]:
    """Make the plan's edits one after another; at each checkpoint score the plan's scored targets
    edited so far (and its panel). Returns the curve's points; ``on_point`` sees the curve after each one
    (so a long run that is stopped still leaves its checkpoints), ``on_edit`` each edit as it is made.
    ``done``: the edits already applied to the model and the points already scored (a resumed run). The
    edits stay applied (undo them with the ledger)."""
    applied_all, curve = list(done[0]), list(done[1])
    scored = {p["edits"] for p in curve}
    for n, item in enumerate(plan.items, 1):
        if n > len(applied_all):
            applied_all.append(unlearner.unlearn(patient, request_for(patient, item)))
            if on_edit:
                on_edit(item_id(item), applied_all[-1])
        if progress:
            progress()
        if not plan.is_checkpoint(n) or n in scored:
            continue
        if n != len(applied_all):  # a checkpoint is scored with exactly its edits applied
            raise ValueError(f"checkpoint {n} was not scored, but {len(applied_all)} edits are applied")
        system = applied_all[-1].system
        results = []
        for j in (j for j in plan.scored if j < n):
            a = applied_all[j].model_copy(update={"system": system})
            results.append(evaluate(patient, plan.items[j], a, None, unlearner.name, after_edits=n))
        point = summarize(results)["overall"]
        if plan.panel:
            res = score_panel(patient, plan, system, n)
            point.update(panel_point(res))
            if write_panel:
                write_panel(res)
        if utility is not None and system is None:
            point.update(kl=utility.kl(patient), ppl=utility.ppl(patient))
        curve.append({"edits": n, **point})
        for r in results:
            write(r)
        if on_point:
            on_point(curve)
    return curve
