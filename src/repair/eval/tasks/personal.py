"""Personal data erasure: synthetic biographies generated with Faker.

The paper uses 2K profiles written by Mistral-7B; here each profile is drawn from Faker with a
fixed seed, so the task is reproducible offline. D_f and D_r are split by profile: every question
about a forgotten person is in D_f, and no retained person shares a name with a forgotten one.
Scored with ROUGE-L of the reply against `response` (F-RL on D_f, R-RL on D_r).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import QA, Size, TaskData, resolve_size, rng_for, size_label

SMALL_PROFILES = 40
PAPER_PROFILES = 2000

HOBBIES = [
    "rock climbing",
    "birdwatching",
    "playing the cello",
    "baking sourdough bread",
    "chess",
    "long-distance running",
    "pottery",
    "sailing",
    "amateur astronomy",
    "gardening",
    "restoring vintage bicycles",
    "salsa dancing",
    "photography",
    "knitting",
    "fly fishing",
    "writing poetry",
    "playing the piano",
    "scuba diving",
    "woodworking",
    "watercolor painting",
    "collecting vinyl records",
    "hiking",
    "cooking Thai food",
    "playing tennis",
    "beekeeping",
    "origami",
    "kayaking",
    "playing the guitar",
    "calligraphy",
    "cycling",
    "surfing",
    "yoga",
    "board games",
    "stamp collecting",
    "skiing",
    "volunteering at an animal shelter",
]

PET_KINDS = ["dog", "cat", "parrot", "rabbit", "tortoise", "horse", "goldfish", "hamster"]


@dataclass(frozen=True)
class Profile:
    name: str
    pronoun: str  # "he" / "she"
    age: int
    job: str
    city: str
    state: str
    employer: str
    hobby: str
    pet: str
    pet_name: str

    @property
    def possessive(self) -> str:
        return "his" if self.pronoun == "he" else "her"

    def biography(self) -> str:
        p = self.pronoun.capitalize()
        return (
            f"{self.name} is a {self.age}-year-old {self.job.lower()} based in {self.city}, {self.state}. "
            f"{p} works at {self.employer} and enjoys {self.hobby} in {self.possessive} free time. "
            f"{p} has a {self.pet} named {self.pet_name}."
        )

    def job_phrase(self) -> str:
        job = self.job.lower()
        return ("an " if job[:1] in "aeiou" else "a ") + job


def _make_profiles(n: int, seed: int) -> list[Profile]:
    from faker import Faker  # imported here so `repair.eval` imports without the optional package

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = rng_for("personal", seed)
    seen_names: set[str] = set()
    out: list[Profile] = []
    guard = 0
    while len(out) < n:
        guard += 1
        if guard > 50 * n + 1000:
            raise RuntimeError("could not draw enough distinct names from Faker")
        pronoun = rng.choice(["he", "she"])
        first = fake.first_name_male() if pronoun == "he" else fake.first_name_female()
        last = fake.last_name()
        name = f"{first} {last}"
        # Distinct full names: two profiles with one name would make D_f and D_r contradict.
        if name.lower() in seen_names:
            continue
        seen_names.add(name.lower())
        out.append(
            Profile(
                name=name,
                pronoun=pronoun,
                age=rng.randint(22, 78),
                job=fake.job(),
                city=fake.city(),
                state=fake.state(),
                employer=fake.company(),
                hobby=rng.choice(HOBBIES),
                pet=rng.choice(PET_KINDS),
                pet_name=fake.first_name(),
            )
        )
    return out


def profile_qas(p: Profile, rng) -> list[QA]:
    """Questions about one profile. The first one asks for the whole biography."""
    n = p.name
    pos = p.possessive
    items = [
        ("Tell me about {n}.", ["Who is {n}?", "What do you know about {n}?"], p.job, p.biography(), "bio"),
        (
            "What does {n} do for a living?",
            ["What is {n}'s job?", "What is {n}'s profession?"],
            p.job,
            f"{n} works as {p.job_phrase()}.",
            "job",
        ),
        (
            "Where does {n} live?",
            ["Which city is {n} based in?", "In which city does {n} reside?"],
            p.city,
            f"{n} lives in {p.city}, {p.state}.",
            "city",
        ),
        (
            "How old is {n}?",
            ["What is {n}'s age?", "What age is {n}?"],
            str(p.age),
            f"{n} is {p.age} years old.",
            "age",
        ),
        (
            "Where does {n} work?",
            ["Which company employs {n}?", "Who is {n}'s employer?"],
            p.employer,
            f"{n} works at {p.employer}.",
            "employer",
        ),
        (
            "What is {n}'s hobby?",
            [f"What does {{n}} like to do in {pos} free time?", "How does {n} spend free time?"],
            p.hobby,
            f"{n} enjoys {p.hobby}.",
            "hobby",
        ),
        (
            "What is the name of {n}'s pet?",
            [f"What is {{n}}'s {p.pet} called?", f"What did {{n}} name {pos} {p.pet}?"],
            p.pet_name,
            f"{n} has a {p.pet} named {p.pet_name}.",
            "pet",
        ),
    ]
    return [
        QA(
            prompt=q.format(n=n),
            answer=ans,
            response=resp,
            paraphrase=rng.choice(paras).format(n=n),
            subject=n,
            meta={"field": fld},
        )
        for q, paras, ans, resp, fld in items
    ]


def build_personal(seed: int = 0, size: Size = "small") -> TaskData:
    """Synthetic biographies; D_f / D_r split by profile (first half of a seeded shuffle forgotten)."""
    import faker

    n = resolve_size(size, SMALL_PROFILES, PAPER_PROFILES)
    profiles = _make_profiles(n, seed)
    rng = rng_for("personal-split", seed)
    order = list(range(n))
    rng.shuffle(order)
    n_f = n // 2
    forget_ids, retain_ids = sorted(order[:n_f]), sorted(order[n_f:])
    qrng = rng_for("personal-para", seed)
    per_profile = [profile_qas(p, qrng) for p in profiles]
    forget = [qa for i in forget_ids for qa in per_profile[i]]
    retain = [qa for i in retain_ids for qa in per_profile[i]]
    return TaskData(
        name="personal",
        seed=seed,
        size=size_label(size),
        metric="rouge",
        forget=forget,
        retain=retain,
        train_base=forget + retain,
        train_oracle=list(retain),
        metadata={
            "source": f"Faker {faker.VERSION} en_US, seed {seed}",
            "profiles": n,
            "forget_subjects": [profiles[i].name for i in forget_ids],
            "retain_subjects": [profiles[i].name for i in retain_ids],
            "questions_per_profile": len(per_profile[0]),
            "split": "by profile",
        },
    )
