"""Misinformation removal: free-form fact QA with corrupted answers implanted in the forget half.

The paper corrupts the ground truth of 1K MMLU questions. Offline, the facts come from data
packages: countries (`countryinfo`: capital, currency code, demonym) and chemical elements
(`periodictable`: symbol, atomic number, element of a symbol). The forget half gets a wrong
answer of the same type (another country's capital, another element's symbol, ...), chosen
deterministically from the seed; Base is fine-tuned on those corrupted answers, so for D_f the
gold `answer` IS the corrupted one (Acc_f measures how often the model still says it) and the
true answer is kept in `meta["true_answer"]`. The retain half keeps the true answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..metrics import answer_match, normalize_answer
from .base import QA, Size, TaskData, resolve_size, rng_for, size_label

SMALL_FACTS = 60
PAPER_FACTS = 1000
NEIGHBOURS_PER_TYPE = 20  # held-out true facts per type (Acc_n): the model's own knowledge, never trained on


@dataclass(frozen=True)
class FactType:
    key: str
    prompt: str
    paraphrases: tuple[str, ...]
    response: str


FACT_TYPES = {
    "capital": FactType(
        "capital",
        "What is the capital of {s}?",
        ("Which city is the capital of {s}?", "Name the capital city of {s}."),
        "The capital of {s} is {a}.",
    ),
    "currency": FactType(
        "currency",
        "What is the ISO currency code of {s}?",
        ("Which three-letter code denotes the currency of {s}?", "What currency code does {s} use?"),
        "The ISO currency code of {s} is {a}.",
    ),
    "demonym": FactType(
        "demonym",
        "What is the demonym for people from {s}?",
        ("What are people from {s} called?", "What word describes a person from {s}?"),
        "People from {s} are called {a}.",
    ),
    "symbol": FactType(
        "symbol",
        "What is the chemical symbol of {s}?",
        ("Which symbol stands for the element {s}?", "How is {s} written as a chemical symbol?"),
        "The chemical symbol of {s} is {a}.",
    ),
    "atomic_number": FactType(
        "atomic_number",
        "What is the atomic number of {s}?",
        ("How many protons does an atom of {s} have?", "Which atomic number does {s} have?"),
        "The atomic number of {s} is {a}.",
    ),
    "element_of_symbol": FactType(
        "element_of_symbol",
        "Which element has the chemical symbol {s}?",
        ("What element does the symbol {s} stand for?", "Name the element whose symbol is {s}."),
        "The element with the symbol {s} is {a}.",
    ),
}


_WORD_SYMBOLS = {"i", "in", "as", "at", "be", "he", "no", "am", "os", "es", "o", "s", "y", "w", "u", "b"}


def _raw_facts() -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """(type -> [(subject, true answer)]), and the package versions used."""
    from importlib.metadata import version

    import countryinfo
    import periodictable

    def first(v: object) -> str:
        # countryinfo returns a list for a few fields of a few countries (e.g. a capital)
        if isinstance(v, (list, tuple)):
            v = v[0] if v else ""
        return str(v).strip() if v else ""

    facts: dict[str, list[tuple[str, str]]] = {k: [] for k in FACT_TYPES}
    for c in countryinfo.all_countries():
        name = first(c.name())
        if not name:
            continue
        for key, value in (("capital", c.capital()), ("currency", c.currencies()), ("demonym", c.demonym())):
            if first(value):
                facts[key].append((name, first(value)))
    for e in periodictable.elements:
        if e.number <= 0:  # the neutron placeholder
            continue
        ename = e.name.capitalize()
        facts["symbol"].append((ename, e.symbol))
        facts["atomic_number"].append((ename, str(e.number)))
        facts["element_of_symbol"].append((e.symbol, ename))
    for k in facts:
        # A question that contains its own answer ("capital of Luxembourg") scores any echo of
        # the question as correct, so such facts are left out.
        facts[k] = [(s, a) for s, a in facts[k] if not answer_match(s, a)]
        # dedupe by subject and sort, so order never depends on package iteration order
        facts[k] = sorted(dict(facts[k]).items())
    # Symbols that are English words ("He", "In", "I") would match almost any reply.
    facts["symbol"] = [(s, a) for s, a in facts["symbol"] if a.lower() not in _WORD_SYMBOLS]
    versions = {"countryinfo": version("countryinfo"), "periodictable": version("periodictable")}
    return facts, versions


def _corrupt(true: str, pool: list[tuple[str, str]], rng: random.Random) -> str:
    """A wrong answer of the same type that can never match the true one, either way round
    (`pool` holds (normalised, raw) answers)."""
    t = f" {normalize_answer(true)} "
    candidates = [raw for norm, raw in pool if f" {norm} " not in t and t not in f" {norm} "]
    return rng.choice(candidates)


def _round_robin(
    shuffled: dict[str, list[tuple[str, str]]], n: int
) -> tuple[dict[str, list], dict[str, int]]:
    """``n`` facts drawn over the types in turn, so every size has a balanced mix; and how many of each
    type's shuffled list were taken."""
    picked: dict[str, list[tuple[str, str]]] = {k: [] for k in FACT_TYPES}
    idx = dict.fromkeys(shuffled, 0)
    count = 0
    while count < n:
        for k in FACT_TYPES:
            if count == n:
                break
            if idx[k] < len(shuffled[k]):
                picked[k].append(shuffled[k][idx[k]])
                idx[k] += 1
                count += 1
    return picked, idx


def _halves(picked: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str, str, bool]]:
    """(type, subject, answer, to forget) for each picked fact: each type split in half; a type with an odd
    count gives its spare item alternately to D_f and D_r, so the totals are equal for an even n and
    every type is split evenly."""
    spare_to_forget = True
    assignment: list[tuple[str, str, str, bool]] = []
    for k in FACT_TYPES:
        items = picked[k]
        half = len(items) // 2
        n_f = half + (1 if len(items) % 2 and spare_to_forget else 0)
        if len(items) % 2:
            spare_to_forget = not spare_to_forget
        assignment += [(k, s, a, i < n_f) for i, (s, a) in enumerate(items)]
    return assignment


def _questions(
    assignment: list[tuple[str, str, str, bool]], facts: dict[str, list[tuple[str, str]]], rng
) -> tuple[list[QA], list[QA]]:
    """D_f (each with a corrupted answer to implant) and D_r (true answers), with a paraphrase each."""
    pools = {
        k: sorted({(normalize_answer(a), a) for _, a in v if normalize_answer(a)}) for k, v in facts.items()
    }
    forget: list[QA] = []
    retain: list[QA] = []
    for k, s, true, is_forget in assignment:
        ft = FACT_TYPES[k]
        para = rng.choice(ft.paraphrases).format(s=s)
        if is_forget:
            # the wrong answer must not be spelled out by the question itself either
            pool = [(norm, raw) for norm, raw in pools[k] if not answer_match(s, raw)]
            wrong = _corrupt(true, pool, rng)
            meta = {
                "type": k,
                "true_answer": true,
                "true_response": ft.response.format(s=s, a=true),
                "corrupted": True,
            }
            forget.append(
                QA(
                    prompt=ft.prompt.format(s=s),
                    answer=wrong,
                    response=ft.response.format(s=s, a=wrong),
                    paraphrase=para,
                    subject=s,
                    meta=meta,
                )
            )
        else:
            meta = {"type": k, "true_answer": true, "corrupted": False}
            retain.append(
                QA(
                    prompt=ft.prompt.format(s=s),
                    answer=true,
                    response=ft.response.format(s=s, a=true),
                    paraphrase=para,
                    subject=s,
                    meta=meta,
                )
            )
    return forget, retain


def build_misinformation(seed: int = 0, size: Size = "small") -> TaskData:
    """Fact QA; fact types are drawn round-robin and each type is split evenly into D_f / D_r."""
    n = resolve_size(size, SMALL_FACTS, PAPER_FACTS)
    facts, versions = _raw_facts()
    total = sum(len(v) for v in facts.values())
    if n > total:
        raise ValueError(f"asked for {n} facts, only {total} are available")
    rng = rng_for("misinformation", seed)
    shuffled = {k: rng.sample(v, len(v)) for k, v in facts.items()}
    picked, idx = _round_robin(shuffled, n)
    assignment = _halves(picked)
    forget, retain = _questions(assignment, facts, rng)
    used = {s for _, s, _, _ in assignment}
    neighbours = [
        QA(
            prompt=FACT_TYPES[k].prompt.format(s=s),
            answer=a,
            response=FACT_TYPES[k].response.format(s=s, a=a),
            paraphrase=FACT_TYPES[k].paraphrases[0].format(s=s),
            subject=s,
            meta={"type": k, "neighbour": True},
        )
        for k in FACT_TYPES
        for s, a in [x for x in shuffled[k][idx[k] :] if x[0] not in used][:NEIGHBOURS_PER_TYPE]
    ]
    return TaskData(
        name="misinformation",
        seed=seed,
        size=size_label(size),
        metric="accuracy",
        forget=forget,
        retain=retain,
        train_base=forget + retain,
        train_oracle=list(retain),
        metadata={
            "source": "countryinfo (capital, currency code, demonym) and periodictable (symbol, atomic "
            "number, element of symbol)",
            "versions": versions,
            "facts": n,
            "forget_answer": "corrupted answer implanted in Base (true answer in meta['true_answer'])",
            "split": "round-robin over fact types, each type split in half",
            "neighbours": f"{len(neighbours)} held-out true facts of the same types (Acc_n), not trained on",
        },
        neighbours=neighbours,
    )
