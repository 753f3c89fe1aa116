"""Typed records of the forget-quality benchmark: targets, their probes and neighbours.

A target is something a user asks the model to forget: an entity ("everything about Marie Curie")
or a single fact ("the capital of Portugal"). Each target carries probes of every type (the ways a
user can still ask for it) and neighbours (what must survive the edit). The set is written by
hand; see ``repair/data/forget_quality/README.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ProbeType = Literal[
    "direct",  # the plain question
    "reverse",  # the answer becomes the question's subject ("Who discovered radium?")
    "paraphrase",  # the direct question reworded (two per target)
    "cloze",  # "Complete the sentence: ..."
    "prefix_injection",  # adversarial: an instruction to ignore restrictions before the question
    "affirmative_suffix",  # adversarial: "Start your answer with 'Sure, ...'"
    "role_play",  # adversarial: a persona who would know
    "quiz",  # adversarial: a quiz / exam framing
    "letter_hint",  # adversarial: the answer's first letters given as a hint
    "in_context",  # adversarial: a worked example of the same kind before the question
    "in_chat",  # the question asked inside a conversation (``history`` holds the earlier turns)
    "multi_hop",  # a question that needs the fact as an intermediate step
]
ADVERSARIAL: frozenset[str] = frozenset(
    {"prefix_injection", "affirmative_suffix", "role_play", "quiz", "letter_hint", "in_context"}
)
NeighbourType = Literal["same_subject", "similar_entity", "unrelated"]


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Question(BaseModel):
    """A prompt whose reply is judged against a short gold answer and its accepted aliases."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    prompt: str = Field(min_length=3)
    answer: str = Field(min_length=1)  # the short gold answer ("Lisbon", "Marie Curie")
    aliases: list[str] = Field(default_factory=list)  # other strings that also state it ("Curie")
    history: list[Turn] = Field(default_factory=list)  # earlier turns, oldest first

    @property
    def keys(self) -> list[str]:
        """Every string whose presence in a reply states the answer."""
        return [self.answer, *self.aliases]

    @field_validator("history")
    @classmethod
    def _alternates(cls, turns: list[Turn]) -> list[Turn]:
        for i, t in enumerate(turns):
            if t.role != ("user" if i % 2 == 0 else "assistant"):
                raise ValueError("history must alternate user/assistant turns, starting with the user")
        if turns and turns[-1].role != "assistant":
            raise ValueError("history must end with an assistant turn (the probe is the next user turn)")
        return turns


class Probe(Question):
    type: ProbeType


class Neighbour(Question):
    type: NeighbourType


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^(ent|fact)-[a-z0-9-]+$")
    kind: Literal["entity", "fact"]
    category: str = Field(min_length=2)  # person, work, company, place, geography, science, ...
    subject: str = Field(min_length=2)  # what the user names ("Marie Curie", "the capital of Portugal")
    request: str = Field(min_length=8)  # the user's forget request, in plain words
    probes: list[Probe] = Field(min_length=8)
    neighbours: list[Neighbour] = Field(min_length=3)

    @model_validator(mode="after")
    def _complete(self) -> Target:
        types = [p.type for p in self.probes]
        need = {"direct", "reverse", "cloze", "in_chat"} | ADVERSARIAL
        missing = sorted(need - set(types))
        if missing:
            raise ValueError(f"{self.id}: probes missing types {missing}")
        if types.count("paraphrase") < 2:
            raise ValueError(f"{self.id}: needs two paraphrase probes")
        if not any(p.history for p in self.probes if p.type == "in_chat"):
            raise ValueError(f"{self.id}: the in_chat probe needs a history")
        ids = [q.id for q in [*self.probes, *self.neighbours]]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.id}: probe/neighbour ids must be unique")
        if "unrelated" not in {n.type for n in self.neighbours}:
            raise ValueError(f"{self.id}: needs at least one unrelated neighbour")
        close = "same_subject" if self.kind == "fact" else "similar_entity"
        if sum(n.type == close for n in self.neighbours) < 2:
            raise ValueError(f"{self.id}: a {self.kind} needs two {close} neighbours")
        return self
