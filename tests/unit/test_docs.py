"""The README is a user's guide, not a lab notebook (issue 24), and the docs' links lead somewhere."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))  # docs/journal/ is history, kept as it was written

DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
TIME = re.compile(r"\b\d\d:\d\d(?::\d\d)?\s*UTC\b|\bUTC\b")
# a commit-like hash: 7 to 40 hex digits with both a digit and a letter (edit ids are 6)
COMMIT = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_readme_is_short():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= 300, f"README.md has {n} lines; move detail into docs/guide.md"


@pytest.mark.parametrize("pattern", [DATE, TIME, COMMIT], ids=["date", "timestamp", "commit"])
def test_readme_has_no_history(pattern):
    text = README.read_text(encoding="utf-8")
    found = pattern.findall(text)
    assert not found, f"README.md should not carry history: {found[:5]}"


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    missing = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the same page
        path = target.split("#", 1)[0]
        if not (doc.parent / path).exists():
            missing.append(target)
    assert not missing, f"{doc.name} links to missing files: {missing}"


# What `repair report results` reads (repair.eval.report.load_results, forget_quality.docs.load_summaries,
# watchdog_report) and what it writes beside them (report.md and its plots; the Figure 5 plots that
# report.md shows are written by `repair eval run --figure5`).
RESULTS_READ = [
    "results/table2-*.json",
    "results/table5-layers.json",
    "results/table6-rank.json",
    "results/table7-retain-ratio.json",
    "results/table8-single-sample.json",
    "results/delta-vs-paper.json",
    "results/forget-quality/*/*/*/summary.json",
    "results/watchdog/*.json",
    "results/report.md",
    "results/rte.png",
    "results/table6-rank.png",
    "results/table7-retain-ratio.png",
    "results/figure5-*.png",
]


def _tracked(folder: str) -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return out.stdout.splitlines()


def test_results_holds_only_what_repair_report_reads():
    """Superseded runs and side files are history (git keeps it), not results: `git rm --cached` them."""
    tracked = _tracked("results")
    assert tracked, "results/ holds the current tables' data"
    extra = [
        f
        for f in tracked
        if not any(fnmatch.fnmatchcase(f, p) and f.count("/") == p.count("/") for p in RESULTS_READ)
    ]
    assert not extra, f"results/ holds files `repair report` does not read: {extra[:10]} ({len(extra)})"


def test_docs_results_md_is_what_repair_report_writes(tmp_path):
    from repair.eval.forget_quality.docs import write_results_md
    from repair.eval.watchdog_report import append_to

    out = write_results_md(ROOT / "results", tmp_path / "results.md")
    append_to(out, ROOT / "results")
    assert out.read_text(encoding="utf-8") == (ROOT / "docs" / "results.md").read_text(encoding="utf-8"), (
        "docs/results.md is written by `repair report results`, never by hand: run it"
    )


def test_results_report_md_is_what_repair_report_writes(tmp_path):
    import shutil

    from repair.eval.report import build_report

    for f in _tracked("results"):
        if f.endswith(".json") and f.count("/") == 1:  # the paper's tables (report.md reads no other)
            shutil.copy(ROOT / f, tmp_path)
    out = build_report(tmp_path)
    assert out.read_text(encoding="utf-8") == (ROOT / "results" / "report.md").read_text(encoding="utf-8"), (
        "results/report.md is written by `repair report results`, never by hand: run it"
    )
