"""ROUGE-L: F-RL on D_f and R-RL on D_r. Recall by default (the TOFU convention: how much of the
reference a reply reproduces, so a refusal scores near 0); ``kind="fmeasure"`` is available."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from repair.eval.metrics.answers import qa_accuracy

if TYPE_CHECKING:
    from repair.eval.tasks.base import QA

RougeKind = Literal["recall", "precision", "fmeasure"]
_SCORERS: dict[bool, Any] = {}


def _scorer(use_stemmer: bool):
    if use_stemmer not in _SCORERS:
        from rouge_score import rouge_scorer

        _SCORERS[use_stemmer] = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    return _SCORERS[use_stemmer]


def rouge_l(
    prediction: str, reference: str, *, kind: RougeKind = "recall", use_stemmer: bool = True
) -> float:
    """ROUGE-L of one prediction against one reference (rouge-score's tokenizer: lowercase,
    alphanumeric tokens; Porter stemming by default, as TOFU does)."""
    s = _scorer(use_stemmer).score(reference, prediction)["rougeL"]
    return float(getattr(s, kind))


def mean_rouge_l(
    predictions: Sequence[str],
    references: Sequence[str],
    *,
    kind: RougeKind = "recall",
    use_stemmer: bool = True,
) -> float:
    """Mean ROUGE-L over pairs. This is F-RL on D_f and R-RL on D_r. Empty input -> nan."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        return float("nan")
    return sum(
        rouge_l(p, r, kind=kind, use_stemmer=use_stemmer)
        for p, r in zip(predictions, references, strict=True)
    ) / len(predictions)


def f_rl_r_rl(
    gen_forget: Sequence[str],
    forget: Sequence[QA],
    gen_retain: Sequence[str],
    retain: Sequence[QA],
    *,
    kind: RougeKind = "recall",
) -> dict[str, float]:
    return {
        "f_rl": mean_rouge_l(gen_forget, [q.response for q in forget], kind=kind),
        "r_rl": mean_rouge_l(gen_retain, [q.response for q in retain], kind=kind),
    }


def score_qa(generations: Sequence[str], qas: Sequence[QA], metric: str) -> float:
    """The task's own metric: "accuracy" (answer containment) or "rouge" (ROUGE-L recall)."""
    if metric == "accuracy":
        return qa_accuracy(generations, qas)
    if metric == "rouge":
        return mean_rouge_l(generations, [q.response for q in qas])
    raise ValueError(f"unknown metric {metric!r}")
