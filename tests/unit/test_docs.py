"""The README is a user's guide, not a lab notebook (issue 24), and the docs' links lead somewhere."""

from __future__ import annotations

import re
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
