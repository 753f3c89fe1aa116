"""The engines' typed settings that an edit record stores: pydantic only, so a ledger reads them
without loading torch, and ``record`` can type ``EditMeta.config`` without importing an engine.

``StampConfig`` is STAMP's (and STAMP-LR's) spec and search policy as one flat model (every field stays a
keyword of ``repair.stamp`` and a ``--set`` key); ``.spec`` and ``.policy`` give the two parts.
``Stamp2Config`` is STAMP-2's. The per-model values and the YAML readers live in ``edit/stamp/config.py``
and ``edit/stamp2/config.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# which token positions of a sample are rows (see capture.Encoded.positions)
Positions = Literal["all", "prompt", "content", "response", "last", "last+response"]
# An edit may cost at most a third of the check questions (the session's and `repair forget`'s default).
GUARD_KEEP = 2 / 3

Layers = Literal["auto"] | int | list[int]


class StampSpec(BaseModel):
    """What an edit changes and how it is solved: the part that describes the saved edit."""

    model_config = ConfigDict(extra="forbid")
    recipe: Literal["repair", "paper"] = "repair"  # "paper": RePAIR section 4.2 as written
    method: Literal["stamp", "stamp-lr"] = "stamp"
    solver: Literal["exact", "delta", "paper"] = "exact"
    layers: Layers = "auto"
    maps: tuple[str, ...] = ("down",)
    # "novel": prompt positions whose token prefix no keep row shares (see EditStats.keep_prefixes)
    positions: Positions | Literal["novel", "novel-content", "novel-all"] = "novel-content"
    # "mean": one key per map, the mean of the forget rows (as ROME averages keys over contexts): the
    # part they share (the subject) moves, what is idiosyncratic to one phrasing averages out
    pool: Literal["rows", "mean"] = "mean"
    lam: float = Field(0.1, gt=0)
    rank: int | None = Field(None, ge=1)
    seed: int = 0
    # the model's own replies to this many generic prompts join the keep rows (0: prompts only)
    keep_replies: int = Field(100, ge=0)
    # the chat template's shared prefix (system prompt) keeps its outputs exactly: every edit's spill
    # onto it would otherwise add up over sequential edits in the one place every reply reads
    keep_prefix: bool = True
    # the repair recipe's target is a state: α·u past where the row was before any edit, so a row that
    # committed edits already moved (a similar question forgotten earlier) goes only the rest of the way
    absolute: bool = True


class SearchPolicy(BaseModel):
    """How a request searches the strength α and the layer band; not needed to apply the edit.
    The defaults are SmolLM2-135M's values (``hparams/stamp/smollm2-135m-instruct.yaml`` says where
    each comes from)."""

    model_config = ConfigDict(extra="forbid")
    alpha: Literal["auto"] | float = "auto"  # a number: that strength, no search
    alpha_start: float = 27.0
    # the unit is the model's own refusal direction, whose size relative to the residual stream differs
    # between models (Qwen2.5-Coder-1.5B needed 385 for France)
    alpha_max: float = 800.0
    alpha_growth: float = Field(1.5, gt=1.0)  # next strength = previous * growth
    # the edit checked and committed is α * margin, for phrasings that are not among the probes
    alpha_margin: float = Field(1.875, ge=1.0)
    # with stamp(guard=...): the fraction of guard prompts whose reply an edit must leave in place
    guard_keep: float = Field(GUARD_KEEP, ge=0.0, le=1.0)  # as the chat session's check questions
    # layers="auto": when the early band forgets only by breaking the guard, search the mid band too
    fallback_band: bool = True
    fallback_alpha_start: float = Field(1.0, gt=0)
    # layers="auto": an early-band edit above this α is costly; the mid band is then searched too and
    # the edit with less collateral kept. None: the early band's edit.
    costly_alpha: float | None = Field(150.0, gt=0)
    # for a costly or guard-breaking edit, also search both bands at this ridge λ and prefer those edits
    # when they forget within the guard. None: off.
    costly_lam: float | None = Field(None, gt=0)


class StampConfig(SearchPolicy, StampSpec):
    """Typed hyperparameters of one edit (also what the surgeon's plan fills in): the spec and the
    search policy as one flat model."""

    @property
    def spec(self) -> StampSpec:
        return StampSpec.model_validate(self.model_dump(include=set(StampSpec.model_fields)))

    @property
    def policy(self) -> SearchPolicy:
        return SearchPolicy.model_validate(self.model_dump(include=set(SearchPolicy.model_fields)))


class VectorConfig(BaseModel):
    """How the per-model refusal vector is found (once per model, then cached)."""

    model_config = ConfigDict(extra="forbid")
    steps: int = Field(25, ge=1)
    lr: float = Field(1.0, gt=0)
    templates_per_subject: int = Field(6, ge=1)  # plain questions per subject
    formats: bool = False  # also the other shapes of question (vector.FORMATS)
    subjects: int = Field(10, ge=1)  # training subjects (vector.vector_subjects)
    # u is also added where the refusal itself names the subject: the edit acts on every mention, the
    # reply's own included, and a vector fitted on the question alone lets the reply start over there
    reply: bool = False
    batch: int | None = Field(None, ge=1)  # rows per step (None: all)
    # where the fit starts: zero, or the vector of the plain-question recipe (VectorConfig()), which the
    # other shapes of question then refine at CPU cost
    start: Literal["zero", "questions"] = "zero"


class Stamp2Config(BaseModel):
    """STAMP-2's settings for one edit: the band, the strength, the ridge, the refusal vector's fit and what
    each edit keeps in place. A STAMP-2 edit records them as ``EditMeta.config``."""

    model_config = ConfigDict(extra="forbid")
    # the band of down maps that is edited; the refusal vector lives after its last block
    layers: list[int] = Field(min_length=1)
    strength: float = Field(1.0, gt=0)  # s: the subject state moves by s·u
    lam: float = Field(0.01, gt=0)  # ridge, relative to the mean diagonal of C_K
    vector: VectorConfig = Field(default_factory=VectorConfig)
    # what else each edit keeps in place (see keep.py); all but keep_prior are on by default
    keep_entities: bool = True  # other entities' subject keys (C_E)
    # the keys of the edits already applied; off by default: gated edits far apart do not meet, and the
    # ungated form held only 12 % of a neighbour panel after 100 edits with it (docs/method.md)
    keep_prior: bool = False
    keep_prefix: bool = True  # the chat template's shared prefix (system prompt) held exactly (keep.py)
    # the model's own replies to the generic prompts join the keep rows: C_K then covers how it writes,
    # not only what it reads, and a reply is where every edit's spill onto shared tokens shows
    keep_replies: bool = True
    formats: bool = False  # key the edit on the other shapes of question too (vector.FORMATS)
    # gate tau: each layer's update acts only on inputs that reach tau of what its keys reach (and is zero
    # elsewhere), so that edits far apart never add up over a sequence; 0: the plain linear update, which
    # a LoRA adapter can hold. 0.5 lies between the subject's other wordings (reach about 1) and similar
    # entities (at most 0.26) on the dev split (docs/method.md)
    gate: float = Field(0.5, ge=0, lt=1)

    @property
    def vector_layer(self) -> int:
        return self.layers[-1]
