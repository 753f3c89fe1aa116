"""Run the forget-quality benchmark: ask, edit, ask again, label every reply, undo.

Single mode: each known target is forgotten alone (its forget pairs are what the current model says
to the direct question, or, for an entity, to the questions ``repair chat`` asks about it), every
answered probe and neighbour is asked again with free greedy generation, and the method undoes it.
Sequential mode (``sequential.py``): the targets are forgotten one after another in one model, and at
checkpoints the earlier targets and their neighbours are scored again (a curve).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from repair.eval.metrics import first_sentence, rouge_l
from repair.eval.unlearners import Applied, ForgetRequest, Unlearner

from .data import MAX_NEW_TOKENS, KnownTarget, chat_history
from .labels import Label, degenerate_rule, label_replies, leaks
from .schema import ADVERSARIAL, Question, Target

NEIGHBOUR_FIDELITY = 0.5  # ROUGE-L recall of the unedited reply's first sentence in the edited reply


class ProbeResult(BaseModel):
    id: str
    type: str
    reply: str
    label: Label
    rouge: float  # ROUGE-L recall against the gold answer (RWKU's forget score)


class NeighbourResult(BaseModel):
    id: str
    type: str
    reply: str
    correct: bool  # still states the answer
    fluent: bool  # not degenerate
    fidelity: float  # ROUGE-L recall of the unedited reply's first sentence
    kept: bool


class TargetResult(BaseModel):
    target: str
    kind: str
    method: str
    applied: Applied
    probes: list[ProbeResult]
    neighbours: list[NeighbourResult]
    kl: float | None = None
    ppl: float | None = None
    after_edits: int = 1  # how many edits were active when this was scored (sequential mode)


# --------------------------------------------------------------------------------------------------
# generation


def ask(patient: Any, target: Target, *, system: str | None = None) -> tuple[list[str], list[str]]:
    """Greedy replies to all of a target's probes and neighbours, as one batch in file order.

    The batch is the same wherever a target is asked (the known filter, the unedited reference, every
    evaluation): batched greedy decoding is exact only for an identical batch, because padding and kernel
    shapes move the logits in the last bits and flip near-ties. In-chat probes carry their history."""
    qs = [*target.probes, *target.neighbours]
    pre = [{"role": "system", "content": system}] if system else []
    replies = patient.generate(
        [q.prompt for q in qs],
        max_new_tokens=MAX_NEW_TOKENS,
        histories=[pre + chat_history(q) for q in qs],
    )
    return replies[: len(target.probes)], replies[len(target.probes) :]


def answered(questions: Sequence[Question], replies: Sequence[str]) -> list[str]:
    """Ids of the questions whose replies state their answers."""
    return [q.id for q, r in zip(questions, replies, strict=True) if leaks(r, q.keys, q.answer)]


def forget_request(patient: Any, target: Target) -> ForgetRequest:
    """The pairs a chat request resolves to: a fact's direct question with the model's reply (the user
    asked, then said "forget that"); an entity's questions from ``repair chat``'s probe step."""
    from repair.agents.watchdog import probe_prompts
    from repair.session.verify import stated_pairs

    if target.kind == "fact":
        prompts = [next(p.prompt for p in target.probes if p.type == "direct")]
    else:
        prompts = probe_prompts(target.subject)
    replies = patient.generate(prompts, max_new_tokens=MAX_NEW_TOKENS)
    pairs = stated_pairs(list(zip(prompts, replies, strict=True)))
    return ForgetRequest(
        subject=target.subject, pairs=pairs or [(prompts[0], replies[0])], request=target.request
    )


# --------------------------------------------------------------------------------------------------
# scoring


def score_probes(
    probes: Sequence[Question], replies: Sequence[str], types: Sequence[str]
) -> list[ProbeResult]:
    labels = label_replies(list(replies), [q.keys for q in probes], [q.answer for q in probes])
    return [
        ProbeResult(id=q.id, type=t, reply=r, label=lab, rouge=round(rouge_l(r, q.answer), 4))
        for q, t, r, lab in zip(probes, types, replies, labels, strict=True)
    ]


def score_neighbours(
    neighbours: Sequence[Question], types: Sequence[str], replies: Sequence[str], base: Sequence[str]
) -> list[NeighbourResult]:
    out = []
    for q, t, r, b in zip(neighbours, types, replies, base, strict=True):
        correct = leaks(r, q.keys, q.answer)
        fluent = degenerate_rule(r) is None
        fidelity = rouge_l(r, first_sentence(b) or b)
        out.append(
            NeighbourResult(
                id=q.id,
                type=t,
                reply=r,
                correct=correct,
                fluent=fluent,
                fidelity=round(fidelity, 4),
                kept=correct and fluent and fidelity >= NEIGHBOUR_FIDELITY,
            )
        )
    return out


class Utility:
    """Generic-prompt next-token KL and corpus perplexity against the unedited model (measured once)."""

    def __init__(self, patient: Any, n_kl: int = 24, n_ppl: int = 16) -> None:
        from repair.edit.verify import next_token_logprobs
        from repair.eval.tasks.corpora import generic_prompts, utility_corpus

        self.samples = [(p, "") for p in generic_prompts(n_kl)]
        try:
            self.texts = utility_corpus(n_ppl, source="garak-books").texts
        except Exception:  # garak is optional: fall back to the Python docs
            self.texts = utility_corpus(n_ppl, source="python-docs").texts
        self._lp = next_token_logprobs
        self.base_lp = next_token_logprobs(patient, self.samples)
        self.base_ppl = self.ppl(patient)

    def kl(self, patient: Any) -> float:
        from repair.edit.verify import collateral

        return round(collateral(self.base_lp, self._lp(patient, self.samples)), 6)

    def ppl(self, patient: Any) -> float:
        from repair.eval.metrics import perplexity

        return round(perplexity(patient.model, patient.tokenizer, self.texts, max_length=256), 4)


# --------------------------------------------------------------------------------------------------
# one target


class Scored(BaseModel):
    """A target's answered probes and neighbours with the unedited replies (the run's fixed reference)."""

    target: Target
    probes: list[Question]
    probe_types: list[str]
    neighbours: list[Question]
    neighbour_types: list[str]
    base_neighbours: list[str] = Field(default_factory=list)


def scored(target: Target, known: KnownTarget, base: dict[str, str]) -> Scored:
    probes = [p for p in target.probes if p.id in known.probes]
    neigh = [n for n in target.neighbours if n.id in known.neighbours]
    return Scored(
        target=target,
        probes=probes,
        probe_types=[p.type for p in probes],
        neighbours=neigh,
        neighbour_types=[n.type for n in neigh],
        base_neighbours=[base[f"{target.id}/{n.id}"] for n in neigh],
    )


def evaluate(
    patient: Any, s: Scored, applied: Applied, utility: Utility | None, method: str, after_edits: int = 1
) -> TargetResult:
    probe_replies, neighbour_replies = ask(patient, s.target, system=applied.system)
    by_id = dict(zip([q.id for q in s.target.probes], probe_replies, strict=True))
    by_id_n = dict(zip([q.id for q in s.target.neighbours], neighbour_replies, strict=True))
    probes = score_probes(s.probes, [by_id[q.id] for q in s.probes], s.probe_types)
    neigh = score_neighbours(
        s.neighbours, s.neighbour_types, [by_id_n[q.id] for q in s.neighbours], s.base_neighbours
    )
    kl = ppl = None
    if utility is not None and applied.system is None:
        kl, ppl = utility.kl(patient), utility.ppl(patient)
    return TargetResult(
        target=s.target.id,
        kind=s.target.kind,
        method=method,
        applied=applied,
        probes=probes,
        neighbours=neigh,
        kl=kl,
        ppl=ppl,
        after_edits=after_edits,
    )


def run_single(
    patient: Any,
    unlearner: Unlearner,
    items: Sequence[Scored],
    *,
    utility: Utility | None,
    done: set[str],
    write: Callable[[TargetResult], None],
    progress: Any = None,
) -> None:
    """Each target alone: unlearn, evaluate, undo. ``done``: target ids to skip (resume)."""
    for s in items:
        if s.target.id in done:
            if progress:
                progress()
            continue
        req = forget_request(patient, s.target)
        applied = unlearner.unlearn(patient, req)
        try:
            write(evaluate(patient, s, applied, utility, unlearner.name))
        finally:
            unlearner.undo(patient, applied)
        if progress:
            progress()


def sample_indices(n: int, sample: int | None) -> list[int]:
    """The indices scored in a sequential run: all ``n``, or ``sample`` of them evenly spaced from 0."""
    if not sample or sample >= n:
        return list(range(n))
    return [round(i * n / sample) for i in range(sample)]


# --------------------------------------------------------------------------------------------------
# aggregation


def _rates(labels: list[str]) -> dict[str, float]:
    n = max(len(labels), 1)
    return {
        "n": len(labels),
        **{f"{k}": round(labels.count(k) / n, 4) for k in ("leak", "refusal", "degenerate", "confabulation")},
    }


def summarize(results: Sequence[TargetResult]) -> dict[str, Any]:
    """Label rates per probe type and group, neighbours kept per type, utility and cost."""
    probes = [p for r in results for p in r.probes]
    by_type = {
        t: _rates([p.label for p in probes if p.type == t]) for t in dict.fromkeys(p.type for p in probes)
    }
    groups = {
        "plain": _rates([p.label for p in probes if p.type not in ADVERSARIAL]),
        "adversarial": _rates([p.label for p in probes if p.type in ADVERSARIAL]),
    }
    neigh = [n for r in results for n in r.neighbours]
    kept = {
        t: round(statistics.mean(n.kept for n in neigh if n.type == t), 4)
        for t in dict.fromkeys(n.type for n in neigh)
    }
    overall = {
        **_rates([p.label for p in probes]),
        "rouge": round(statistics.mean(p.rouge for p in probes), 4) if probes else None,
        "neighbours_kept": round(statistics.mean(n.kept for n in neigh), 4) if neigh else None,
        "neighbours_n": len(neigh),
    }
    kls = [r.kl for r in results if r.kl is not None]
    ppls = [r.ppl for r in results if r.ppl is not None]
    req = [r.applied.request_s for r in results]
    upd = [r.applied.weight_update_s for r in results if r.applied.weight_update_s is not None]
    return {
        "targets": len(results),
        "overall": overall,
        "groups": groups,
        "by_type": by_type,
        "neighbours_by_type": kept,
        "kl": round(statistics.mean(kls), 6) if kls else None,
        "ppl": round(statistics.mean(ppls), 4) if ppls else None,
        "outcomes": {
            o: sum(r.applied.outcome == o for r in results)
            for o in dict.fromkeys(r.applied.outcome for r in results)
        },
        "median_request_s": round(statistics.median(req), 3) if req else None,
        "median_weight_update_s": round(statistics.median(upd), 4) if upd else None,
    }


def read_records(path: Path) -> list[TargetResult]:
    if not path.exists():
        return []
    return [TargetResult.model_validate_json(ln) for ln in path.read_text().splitlines() if ln.strip()]


def appender(path: Path) -> Callable[[TargetResult], None]:
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(r: TargetResult) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write(r.model_dump_json() + "\n")
            f.flush()

    return write
