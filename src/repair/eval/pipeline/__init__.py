"""Pipeline benchmark (the paper's Table 3, offline): a scripted user talks to a `Session`.

Each unlearning scenario: a few chat turns including a question about a fact the patient knows
(`known_facts`), then a request to forget it, phrased in one of many ways (pointing back at the last
answer, or naming the topic), then follow-up probes (the question and a paraphrase) as new turns.
Chat-only scenarios (ordinary questions and hard negatives such as "I forgot my password") measure false
positives. Edits are undone after each scenario, so every scenario starts from the base model;
retain accuracy is measured while the scenario's edit is active, on other known facts.

    python benchmarks/pipeline.py --n 100 --seed 0 --out results/pipeline
    repair eval pipeline --n 100 --seed 0

Modules: ``scenarios`` (the scripted user), ``run`` (playing them against a Session), ``summary``
(the rates and the table).
"""

from repair.eval.pipeline.run import play_chat, play_unlearn, resumed_rows, run_pipeline
from repair.eval.pipeline.scenarios import (
    CHAT_QUESTIONS,
    HARD_NEGATIVES,
    NAMING,
    POINTING,
    TOPICS,
    build_scenarios,
)
from repair.eval.pipeline.summary import ROWS, print_table, summarise

# The names these had when the pipeline was one module (tests import them).
_scenarios = build_scenarios
_resumed = resumed_rows

__all__ = [
    "CHAT_QUESTIONS",
    "HARD_NEGATIVES",
    "NAMING",
    "POINTING",
    "ROWS",
    "TOPICS",
    "build_scenarios",
    "play_chat",
    "play_unlearn",
    "print_table",
    "resumed_rows",
    "run_pipeline",
    "summarise",
]
