"""Evaluation runner: the paper's Table 2 per task, Tables 5-8, the delta-vs-paper comparison and
Figure 5, each written as JSON (every number), a markdown table and PNG plots.

``config`` holds the run's settings, ``methods`` how each method from the unlearner registry is
given its requests, ``scoring`` the metrics of one model, ``tables`` the runs, ``markdown`` the tables.
"""

from __future__ import annotations

from .config import ALL_METHODS, LABELS, SIZES, TABLES, TASK_NAMES, RunConfig, machine, task_for, write_json
from .markdown import single_markdown, table2_markdown, variant_rows, variants_markdown
from .methods import (
    build_unlearner,
    request_answer,
    requests_for,
    retain_subset,
    single_requests,
    stamp_guard,
    stamp_overrides,
    subject_groups,
    write_retain_buffer,
)
from .scoring import Evaluator, generate
from .tables import TaskContext, figure5_for, method_row, run_single_sample, run_table, run_task

__all__ = [
    "ALL_METHODS",
    "LABELS",
    "SIZES",
    "TABLES",
    "TASK_NAMES",
    "Evaluator",
    "RunConfig",
    "TaskContext",
    "build_unlearner",
    "figure5_for",
    "generate",
    "machine",
    "method_row",
    "request_answer",
    "requests_for",
    "retain_subset",
    "run_single_sample",
    "run_table",
    "run_task",
    "single_markdown",
    "single_requests",
    "stamp_guard",
    "stamp_overrides",
    "subject_groups",
    "table2_markdown",
    "task_for",
    "variant_rows",
    "variants_markdown",
    "write_json",
    "write_retain_buffer",
]
