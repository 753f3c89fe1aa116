"""Evaluation metrics for unlearning (section 5 of the RePAIR paper), one module per family.

- ``answers``: Acc_f / Acc_r, free-form answer accuracy by normalised containment (``answer_match``).
- ``rouge``: F-RL / R-RL, ROUGE-L of generated replies against the reference responses (recall by
  default, the TOFU convention).
- ``refusals``: refusal detection and the "IDK rate".
- ``utility``: token-weighted perplexity on general text, and the mean KL divergence between
  next-token distributions before and after an edit (torch, imported lazily).
"""

from repair.eval.metrics.answers import (
    acc_f_acc_r,
    accuracy,
    answer_match,
    first_sentence,
    normalize_answer,
    qa_accuracy,
)
from repair.eval.metrics.refusals import REFUSAL_PATTERNS, is_refusal, refusal_rate
from repair.eval.metrics.rouge import RougeKind, f_rl_r_rl, mean_rouge_l, rouge_l, score_qa
from repair.eval.metrics.utility import format_prompts, mean_kl, nll_sum, perplexity

__all__ = [
    "REFUSAL_PATTERNS",
    "RougeKind",
    "acc_f_acc_r",
    "accuracy",
    "answer_match",
    "first_sentence",
    "f_rl_r_rl",
    "format_prompts",
    "is_refusal",
    "mean_kl",
    "mean_rouge_l",
    "nll_sum",
    "normalize_answer",
    "perplexity",
    "qa_accuracy",
    "refusal_rate",
    "rouge_l",
    "score_qa",
]
