"""Write the filler facts of a long sequential forget-quality run: single facts the model answers.

    nice -n 19 python benchmarks/make_fq_fillers.py [--model smollm2-135m-instruct] [--threads 1]

A 1,000-edit run (``repair eval forget-quality --sequential 1000 --fillers``) edits a fixed sample of 50
stress targets, then filler facts. This script writes them: questions in plain templates (capitals both
ways, continents, demonyms, currencies and languages of countries; US state capitals both ways; chemical
symbols both ways and atomic numbers), read from the ``countryinfo``, ``pycountry``, ``us`` and
``periodictable`` packages (the eval extra). It drops every fact that names a country, state, capital, province
or element which is the subject or an answer (of a probe or a neighbour) of a dev, test or example target,
or which occurs anywhere in the fixed sample's targets or the neighbour panel (those are scored); then asks the unedited model each question (greedy, 24 tokens, float32, in
batches) and keeps the facts it answers (a key of the answer in its reply, whole tokens). The kept facts
are shuffled with a fixed seed (so relations interleave) and written with their provenance to
``src/repair/data/forget_quality/known/fillers-<model>.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import unicodedata
from importlib.metadata import version
from pathlib import Path

import periodictable
import pycountry
import torch
import us
from countryinfo import all_countries
from tqdm import tqdm

import repair
from repair.eval.forget_quality.bench import selected
from repair.eval.forget_quality.data import file_sha256, known_path, load_targets
from repair.eval.forget_quality.fillers import (
    FillerFact,
    FillerSet,
    Vocabulary,
    fillers_name,
    fixed_sample,
    neighbour_panel,
    target_terms,
    target_text,
)
from repair.eval.metrics.answers import answer_match
from repair.models.loader import repair_home

SAMPLE = PANEL = 50
SEED = 0
BATCH = 16  # small batches: progress is cached after each, and a stopped check resumes
CHECK_TOKENS = 24  # a fact question is answered in its first sentence; unanswered rows run this long
PROVINCES = 6  # per country: a country's provinces are many, and the model knows few
# symbols that are English words or letters: a reply would "state" them by accident
WORDY_SYMBOLS = {"I", "As", "At", "Be", "He", "In", "No", "Am", "Os", "Pm", "Re", "La", "Ha", "Ho", "Es"}
ELEMENT_ALIASES = {"Aluminum": ["Aluminium"], "Cesium": ["Caesium"], "Sulfur": ["Sulphur"]}
SOURCES = ("countryinfo", "pycountry", "us", "periodictable")


def _slug(text: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_).split())


def _fact(relation: str, subject: str, prompt: str, answer: str, aliases: list[str], src: str, names):
    fid = f"filler-{_slug(relation)}-{_slug(subject)}"
    fact = FillerFact(
        id=fid,
        relation=relation,
        subject=subject,
        prompt=prompt,
        answer=answer,
        aliases=[a for a in dict.fromkeys(aliases) if a and a != answer],
        source=f"{src}=={version(src)}",
        names=names,
    )
    return fact, names


def _language(code: str) -> str | None:
    lang = pycountry.languages.get(alpha_2=code)
    return lang.name.split(";")[0].strip() if lang else None


def _currency_keys(code: str) -> list[str]:
    cur = pycountry.currencies.get(alpha_3=code)
    if cur is None:
        return []
    words = [w for w in cur.name.split() if not w.isupper()]
    return [cur.name, words[-1]] if words else [cur.name]


def country_facts() -> list[tuple[FillerFact, list[str]]]:
    out = []
    for country in all_countries():
        try:
            info = country.info()
        except Exception:  # a few entries lack fields
            continue
        c, capital, region = info.get("name"), info.get("capital"), info.get("region")
        if isinstance(capital, list):  # a handful list several (or their city-state itself)
            capital = capital[0] if capital else None
        if not isinstance(c, str) or not c:
            continue
        names = [c, *([capital] if capital else [])]
        if capital:
            out.append(_fact("capital", f"the capital of {c}", f"What is the capital of {c}?", capital, [], "countryinfo", names))  # fmt: skip
            out.append(_fact("capital_of", f"which country {capital} is the capital of", f"{capital} is the capital of which country?", c, [], "countryinfo", names))  # fmt: skip
        if region in ("Africa", "Asia", "Europe", "Oceania", "Americas"):
            answer = "America" if region == "Americas" else region
            out.append(_fact("continent", f"the continent {c} is on", f"On which continent is {c}?", answer, ["Australia"] if region == "Oceania" else [], "countryinfo", names))  # fmt: skip
        if info.get("demonym"):
            out.append(_fact("demonym", f"what a person from {c} is called", f"What do you call a person from {c}?", info["demonym"], [], "countryinfo", names))  # fmt: skip
        cur = [k for code in info.get("currencies") or [] for k in _currency_keys(code)]
        if cur:
            out.append(_fact("currency", f"the currency of {c}", f"What currency is used in {c}?", cur[0], cur[1:], "pycountry", names))  # fmt: skip
        langs = [x for x in map(_language, info.get("languages") or []) if x]
        if langs:
            out.append(_fact("language", f"the language of {c}", f"What language is spoken in {c}?", langs[0], langs[1:], "pycountry", names))  # fmt: skip
        out += _border_and_province_facts(c, info, names)
    return out


def _border_and_province_facts(c: str, info: dict, names: list[str]) -> list[tuple[FillerFact, list[str]]]:
    """ "Name a country that borders X" (any neighbour counts) and "P is a province of which country?"
    (the first few of a country's provinces, in the package's order)."""
    out = []
    borders = [pycountry.countries.get(alpha_3=code) for code in info.get("borders") or []]
    keys = [k for b in borders if b for k in (getattr(b, "common_name", None), b.name) if k]
    if keys:
        out.append(_fact("border", f"the countries that border {c}", f"Name a country that borders {c}.", keys[0], keys[1:], "pycountry", names))  # fmt: skip
    for prov in (info.get("provinces") or [])[:PROVINCES]:
        if isinstance(prov, str) and prov != c and len(prov) > 3:
            out.append(_fact("province_of", f"which country {prov} is a province of", f"{prov} is a province or region of which country?", c, [], "countryinfo", [*names, prov]))  # fmt: skip
    return out


def state_facts() -> list[tuple[FillerFact, list[str]]]:
    out = []
    for s in us.states.STATES:
        names = [s.name, s.capital]
        out.append(_fact("state_capital", f"the capital of {s.name}", f"What is the capital of the US state of {s.name}?", s.capital, [], "us", names))  # fmt: skip
        out.append(_fact("state_of", f"which US state {s.capital} is the capital of", f"{s.capital} is the capital of which US state?", s.name, [], "us", names))  # fmt: skip
    return out


def element_facts() -> list[tuple[FillerFact, list[str]]]:
    out = []
    for e in periodictable.elements:
        if e.number <= 0 or e.number > 103:
            continue
        name = e.name.capitalize()
        names = [name, *ELEMENT_ALIASES.get(name, [])]
        aliases = ELEMENT_ALIASES.get(name, [])
        if e.symbol not in WORDY_SYMBOLS:
            out.append(_fact("symbol", f"the chemical symbol for {name.lower()}", f"What is the chemical symbol for {name.lower()}?", e.symbol, [], "periodictable", names))  # fmt: skip
            out.append(_fact("element", f"which element has the symbol {e.symbol}", f"Which chemical element has the symbol {e.symbol}?", name, aliases, "periodictable", names))  # fmt: skip
        out.append(_fact("atomic_number", f"the atomic number of {name.lower()}", f"What is the atomic number of {name.lower()}?", str(e.number), [], "periodictable", names))  # fmt: skip
    return out


def answered(patient, facts: list[FillerFact], cache: Path) -> list[FillerFact]:
    """The facts whose greedy reply states a key (each reply stops once it has). Replies are cached per
    prompt under $REPAIR_HOME after every batch, so a stopped check resumes."""
    said = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [f for f in facts if f.prompt not in said]
    for i in tqdm(range(0, len(todo), BATCH), desc="asking the model", unit="batch"):
        batch = todo[i : i + BATCH]
        replies = patient.generate(
            [f.prompt for f in batch],
            max_new_tokens=CHECK_TOKENS,
            until=lambda j, r, b=batch: answer_match(r, b[j].keys),
        )
        said |= {f.prompt: r for f, r in zip(batch, replies, strict=True)}
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(said, ensure_ascii=False), encoding="utf-8")
    return [f for f in facts if answer_match(said[f.prompt], f.keys)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dry-run", action="store_true", help="count the candidates; ask no model")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from repair.eval.forget_quality.bench import BenchConfig

    stress, known = selected(BenchConfig(model=args.model, split="stress"))
    sample = fixed_sample(stress, SAMPLE)
    panel = neighbour_panel(stress, known, sample, PANEL)
    example = Path(known_path(args.model)).parent.parent / "_example.jsonl"
    held = [t for s in ("dev", "test") for t in load_targets(s)] + load_targets(example)
    banned = Vocabulary(
        [target_terms(t) for t in held]  # held-out targets: what they name, not every word of their probes
        + [target_text(t) for t in sample]  # scored here: any word
        + [f"{p.question.prompt} {' '.join(p.question.keys)}" for p in panel]
    )
    written = country_facts() + state_facts() + element_facts()
    unique = {f.id: (f, names) for f, names in written}
    free = [f for f, names in unique.values() if not any(banned.names(x) for x in names)]
    if args.dry_run:
        by = {r: sum(f.relation == r for f in free) for r in dict.fromkeys(f.relation for f in free)}
        print(f"{len(unique)} written, {len(free)} free of overlap: {by}")
        return
    patient = repair.load(args.model, dtype="float32", ledger=False)
    kept = answered(
        patient, free, repair_home() / "forget-quality" / f"fillers-{args.model}-float32-{CHECK_TOKENS}.json"
    )
    random.Random(SEED).shuffle(kept)
    out = FillerSet(
        model=args.model,
        max_new_tokens=CHECK_TOKENS,
        provenance=(
            "benchmarks/make_fq_fillers.py: template questions from the packages listed; dropped when a "
            "country, state, capital, province or element they name is the subject or an answer of a "
            "dev/test/_example target, or occurs anywhere in the fixed sample's targets or the neighbour "
            f"panel; kept when the unedited model's greedy reply ({CHECK_TOKENS} tokens, "
            f"float32) states a key; shuffled with seed {SEED}"
        ),
        sources={s: version(s) for s in SOURCES},
        candidates=len(unique),
        overlapping=len(unique) - len(free),
        split_sha256={s: file_sha256(s) for s in ("dev", "test", "stress")},
        sample=[t.id for t in sample],
        panel=[p.id for p in panel],
        facts=kept,
    )
    path = known_path(args.model).parent / fillers_name(args.model)
    path.write_text(out.model_dump_json(indent=1) + "\n", encoding="utf-8")
    by = {r: sum(f.relation == r for f in kept) for r in dict.fromkeys(f.relation for f in kept)}
    print(
        f"{out.candidates} written, {out.overlapping} overlapping, {len(kept)} answered: {by}; wrote {path}"
    )
    print(out.provenance)


if __name__ == "__main__":
    main()
