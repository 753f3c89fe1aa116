"""Write src/repair/data/keep_questions.jsonl: short questions in the common factual templates.

Why: an edit is keyed on the forget prompt's activations. Questions that share its template
("What is the capital of ...", "Tell me about <name>.") have nearly the same keys, so the keep
statistics need many of them for the solver to find what is specific to the forget sample.
Subjects of the end-to-end test facts (repair.eval.facts.FACTS) are left out so those tests stay
honest: their retain facts are never in the keep set.

    python benchmarks/make_keep_data.py        # needs the eval extra: faker, countryinfo, periodictable
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import periodictable
from countryinfo import all_countries
from faker import Faker

from repair.eval.facts import FACTS

OUT = Path(__file__).resolve().parents[1] / "src/repair/data/keep_questions.jsonl"
BOOKS = [
    "Pride and Prejudice",
    "Moby-Dick",
    "War and Peace",
    "The Odyssey",
    "Don Quixote",
    "1984",
    "The Great Gatsby",
    "Crime and Punishment",
    "Jane Eyre",
    "Frankenstein",
    "Dracula",
    "Ulysses",
    "The Hobbit",
    "Les Misérables",
    "Great Expectations",
    "The Divine Comedy",
    "Faust",
    "Macbeth",
    "Othello",
    "The Iliad",
    "Anna Karenina",
    "Wuthering Heights",
    "Brave New World",
    "Dune",
]
PAINTINGS = [
    "The Starry Night",
    "The Last Supper",
    "Guernica",
    "The Scream",
    "The Night Watch",
    "Girl with a Pearl Earring",
    "The Persistence of Memory",
    "The Birth of Venus",
    "Water Lilies",
]
INVENTIONS = [
    "the telephone",
    "the light bulb",
    "the printing press",
    "the steam engine",
    "the airplane",
    "the radio",
    "the World Wide Web",
    "dynamite",
    "the periodic table",
]
DISCOVERIES = ["the electron", "DNA's double helix", "X-rays", "radioactivity", "gravity", "insulin"]
SUPERLATIVES = [
    "desert",
    "lake",
    "country by area",
    "country by population",
    "island",
    "volcano",
    "waterfall",
    "animal",
    "bird",
    "fish",
    "bone in the human body",
    "organ in the human body",
    "moon of Saturn",
    "city in the United States",
    "forest",
]
PERSON_TEMPLATES = [
    "Tell me about {}.",
    "Who is {}?",
    "Where does {} live?",
    "What does {} do for a living?",
    "How old is {}?",
    "What are {}'s hobbies?",
    "Where was {} born?",
    "What is {}'s email address?",
]


def _names(text: str) -> set[str]:
    """Capitalised words after the first: the subjects of a question."""
    return {w.strip("?.,'\"").lower() for w in text.split()[1:] if w[:1].isupper()}


FACT_SUBJECTS = set().union(*(_names(p) | _names(q) | {a.lower()} for p, a, q in FACTS)) - {"the", "in"}


def excluded(text: str) -> bool:
    return bool(_names(text) & FACT_SUBJECTS)


def main(seed: int = 0) -> None:
    rng, fake = random.Random(seed), Faker()
    Faker.seed(seed)
    countries = [c.name().title() for c in all_countries()]
    rng.shuffle(countries)
    qs: list[str] = []
    for c in countries[:120]:
        qs.append(f"What is the capital of {c}?")
    for c in countries[120:160]:
        qs.append(
            rng.choice(
                [
                    "Which city is the capital of {}?",
                    "What currency is used in {}?",
                    "What language is spoken in {}?",
                    "What is the population of {}?",
                ]
            ).format(c)
        )
    for e in rng.sample([e for e in periodictable.elements if e.number > 0], 50):
        qs.append(
            rng.choice(["What is the chemical symbol for {}?", "What is the atomic number of {}?"]).format(
                e.name
            )
        )
    qs += [f"Who wrote {b}?" for b in BOOKS] + [f"Who painted {p}?" for p in PAINTINGS]
    qs += [f"Who invented {t}?" for t in INVENTIONS] + [f"Who discovered {t}?" for t in DISCOVERIES]
    qs += [f"What is the largest {s} in the world?" for s in SUPERLATIVES]
    for _ in range(90):
        qs.append(rng.choice(PERSON_TEMPLATES).format(fake.name()))
    rows = sorted({q for q in qs if not excluded(q)}, key=qs.index)
    OUT.write_text("".join(json.dumps({"prompt": q}) + "\n" for q in rows))
    print(f"wrote {len(rows)} questions to {OUT}")


if __name__ == "__main__":
    main()
