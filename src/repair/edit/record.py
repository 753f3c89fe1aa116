"""What an edit records beside its deltas (``EditMeta``) and what its check found (``Verification``).

Both engines fill the same two models; the ledger keeps the settings and figures in plain and seals the
text the user asked to forget (``EditMeta.split``). Records written before these models existed are
plain dicts; ``EditMeta.load`` reads them (keys no longer written are dropped, as peft drops unknown
config keys, in the record and in its engine config), so old ledgers still open.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from repair.edit.settings import Stamp2Config, StampConfig

log = logging.getLogger(__name__)

Label = Literal["leak", "refusal", "substitute"]


class ProbeCheck(BaseModel):
    """One check question and the reply the edited model gave, labelled as a user would read it."""

    model_config = ConfigDict(extra="forbid")

    prompt: str
    reply: str
    label: Label

    @computed_field  # type: ignore[prop-decorator]
    @property
    def forgotten(self) -> bool:
        return self.label != "leak"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def refusal(self) -> bool:
        return self.label == "refusal"

    @model_validator(mode="before")
    @classmethod
    def _from_flags(cls, data: Any) -> Any:
        """A stored probe carries the computed flags; one from before labels carries only them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        forgotten, refusal = data.pop("forgotten", None), data.pop("refusal", None)
        if "label" not in data:
            data["label"] = "leak" if forgotten is False else ("refusal" if refusal else "substitute")
        return data


class GuardCheck(BaseModel):
    """How many unrelated check questions an edit left answered, and whether that is enough."""

    model_config = ConfigDict(extra="ignore")  # "lost", written by early ledgers, is not kept

    kept: int
    total: int
    ok: bool


class Verification(BaseModel):
    """The verdict on an edit: its check questions' replies and the unrelated answers it kept.

    ``forgotten``: no check reply gives the answer. The rates are over the probes; ``n_probes`` replaces
    the probes in the ledger's public copy (the prompts and replies are sealed with the edit). ``final``
    tells the α search that a stronger edit cannot help (it broke the guard)."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["stamp", "stamp2"] = "stamp"
    forgotten: bool
    fraction: float | None = None
    refusal_rate: float | None = None
    substitute_rate: float | None = None
    probes: list[ProbeCheck] = Field(default_factory=list)
    n_probes: int | None = None
    guard: GuardCheck | None = None
    keys: list[str] = Field(default_factory=list)  # the answer's key strings a leak is matched on
    final: bool = False

    @classmethod
    def of(
        cls,
        probes: list[ProbeCheck],
        *,
        guard: GuardCheck | None = None,
        keys: list[str] | None = None,
        engine: Literal["stamp", "stamp2"] = "stamp",
    ) -> Verification:
        """The verdict of these labelled replies (no probes: not forgotten)."""
        n = max(len(probes), 1)
        count = {lab: sum(p.label == lab for p in probes) for lab in ("leak", "refusal", "substitute")}
        return cls(
            engine=engine,
            forgotten=bool(probes) and count["leak"] == 0,
            fraction=(len(probes) - count["leak"]) / n,
            refusal_rate=count["refusal"] / n,
            substitute_rate=count["substitute"] / n,
            probes=probes,
            guard=guard,
            keys=list(keys or []),
        )

    def count(self, label: Label) -> int:
        return sum(p.label == label for p in self.probes)

    @property
    def refused(self) -> bool:
        """Every check question now gets a refusal: what a user asking about the subject should see."""
        return bool(self.probes) and self.count("refusal") == len(self.probes)

    @property
    def guard_ok(self) -> bool:
        """No guard, or one that kept enough answers."""
        return self.guard is None or self.guard.ok

    def public(self) -> Verification:
        """The copy kept in plain: figures only, no prompt, reply or answer text."""
        n = len(self.probes) if self.probes else self.n_probes
        return self.model_copy(update={"probes": [], "keys": [], "n_probes": n})

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"refused", "ok"} & data.keys():
            data = {k: v for k, v in data.items() if k not in ("refused", "ok")}  # derived, early ledgers
        return data


def _engine_of(config: Any) -> str:
    """Which engine's settings these are: a STAMP-2 config always carries its strength and vector fit."""
    if isinstance(config, BaseModel):
        return "stamp2" if isinstance(config, Stamp2Config) else "stamp"
    return "stamp2" if isinstance(config, dict) and {"strength", "vector"} & config.keys() else "stamp"


EngineConfig = Annotated[
    Annotated[StampConfig, Tag("stamp")] | Annotated[Stamp2Config, Tag("stamp2")], Discriminator(_engine_of)
]

PRIVATE_FIELDS = {"forget", "paraphrases", "answer", "target", "subject"}  # text the user asked to forget


class EditMeta(BaseModel):
    """What an edit records beside its deltas: the request (private text), the engine's settings and the
    verdict. ``method`` names the engine ("stamp", "stamp-lr", "stamp2"); the fields below it are that
    engine's (None where the other engine sets them)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    method: str | None = None
    requested_by: str | None = None
    # the request: sealed in the ledger (see ``split``)
    target: str | None = None  # what the reply names
    subject: str | None = None  # the named subject an edit is keyed on (stamp2)
    forget: list[tuple[str, str]] | None = None  # (prompt, response) rows
    paraphrases: list[str] | None = None
    answer: str | None = None  # the string the check looks for
    # the engine's settings and what its search did
    layers: list[int] | None = None
    alpha: float | None = None  # STAMP: the strength of the committed edit
    # the engine's full settings: STAMP's and STAMP-LR's spec and policy (for escalation), or STAMP-2's
    # (which also records its main ones as the fields below: layers, strength, formats, lam)
    config: EngineConfig | None = None
    screened: int | None = None  # STAMP: α steps the teacher-forced screen rejected
    bands_tried: list[list[int]] | None = None
    collateral: dict[str, float] | None = None  # STAMP: per band, the cost that chose it
    rows: int | None = None  # stamp2: the key rows
    strength: float | None = None  # stamp2
    formats: bool | None = None  # stamp2: keyed on the other shapes of question too
    lam: float | None = None
    # how it came about and how it went
    plan_source: str | None = None
    request_source: str | None = None
    verification: Verification | None = None
    uncommitted_reason: Literal["guard"] | None = None

    @classmethod
    def load(cls, data: dict[str, Any] | EditMeta | None) -> EditMeta:
        """A stored record (a dict from any ledger format): unknown keys are dropped, not fatal."""
        if isinstance(data, EditMeta):
            return data.model_copy(deep=True)
        data = dict(data or {})
        unknown = data.keys() - cls.model_fields.keys()
        if unknown:
            log.debug("edit record: dropping keys no longer written: %s", sorted(unknown))
        data = {k: v for k, v in data.items() if k not in unknown}
        if isinstance(data.get("config"), dict):
            engine = Stamp2Config if data.get("method") == "stamp2" else StampConfig
            config = _known_settings(data["config"], engine)
            if engine is Stamp2Config:  # written before gates existed: a plain (ungated) edit
                config.setdefault("gate", 0.0)
            data["config"] = engine.model_validate(config)
        return cls.model_validate(data)

    @field_validator("method", "config")
    @classmethod
    def _config_of_its_engine(cls, value: Any, info: ValidationInfo) -> Any:
        """A field check, not a model one: a refused assignment then leaves the record as it was."""
        other = info.data.get("config" if info.field_name == "method" else "method")
        method, config = (value, other) if info.field_name == "method" else (other, value)
        if config is not None and method is not None:
            if (method == "stamp2") != isinstance(config, Stamp2Config):
                raise ValueError(f"a {method} edit records {type(config).__name__} settings")
        return value

    @property
    def stamp_config(self) -> StampConfig | None:
        """STAMP's settings (None for a STAMP-2 edit or none recorded): what escalation starts from."""
        return self.config if isinstance(self.config, StampConfig) else None

    def set(self, **fields: Any) -> None:
        """Set fields by name, each validated (a misspelt name fails)."""
        for k, v in fields.items():
            setattr(self, k, v)

    def dump(self) -> dict[str, Any]:
        """The JSON form (fields that are not set are left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(public, private) JSON parts: public holds settings and verification figures; private the
        forgotten text and the full verification (its prompts and replies)."""
        full = self.dump()
        public = {k: v for k, v in full.items() if k not in PRIVATE_FIELDS}
        private = {k: v for k, v in full.items() if k in PRIVATE_FIELDS}
        if self.verification is not None:
            public["verification"] = self.verification.public().model_dump(mode="json", exclude_none=True)
            private["verification"] = full["verification"]
        return public, private

    def merged(self, private: dict[str, Any] | EditMeta) -> EditMeta:
        """This public part with its private part (``split``'s second part, or it read back) put back."""
        extra = private.dump() if isinstance(private, EditMeta) else private
        return EditMeta.load({**self.dump(), **extra})

    def texts(self) -> list[str]:
        """Every forgotten text an audit may ask about: prompts, answers, paraphrases, target, subject."""
        texts = [str(x) for pair in self.forget or [] for x in pair]
        texts += [str(p) for p in self.paraphrases or []]
        texts += [str(t) for t in (self.target, self.subject, self.answer) if t]
        return [t for t in dict.fromkeys(texts) if t.strip()]


def _known_settings(config: dict[str, Any], engine: type[StampConfig] | type[Stamp2Config]) -> dict[str, Any]:
    """A stored engine config with the settings no longer known dropped, and those whose old value the
    current model rejects (a removed choice) left to their defaults: an old record still opens."""
    config = {k: v for k, v in config.items() if k in engine.model_fields}
    required = {k: v for k, v in config.items() if engine.model_fields[k].is_required()}
    for field, value in list(config.items()):
        try:
            engine.model_validate({**required, field: value})
        except ValueError:
            log.debug("edit record: setting %s=%r is no longer valid; default used", field, value)
            del config[field]
    return config
