"""STAMP-2's typed hyperparameters; per-model values live in ``edit/hparams/stamp2/<model>.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

HPARAMS = Path(__file__).resolve().parent.parent / "hparams" / "stamp2"


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
    model_config = ConfigDict(extra="forbid")
    # the band of down maps that is edited; the refusal vector lives after its last block
    layers: list[int] = Field(min_length=1)
    strength: float = Field(1.0, gt=0)  # s: the subject state moves by s·u
    lam: float = Field(0.01, gt=0)  # ridge, relative to the mean diagonal of C_K
    vector: VectorConfig = Field(default_factory=VectorConfig)
    # what else each edit keeps in place (see keep.py); all are on by default, off only for ablations
    keep_entities: bool = True  # other entities' subject keys (C_E)
    keep_prior: bool = True  # the keys of the edits already applied
    keep_prefix: bool = True  # the chat template's shared prefix (system prompt) held exactly (keep.py)
    # the model's own replies to the generic prompts join the keep rows: C_K then covers how it writes,
    # not only what it reads, and a reply is where every edit's spill onto shared tokens shows
    keep_replies: bool = True
    formats: bool = False  # key the edit on the other shapes of question too (vector.FORMATS)

    @property
    def vector_layer(self) -> int:
        return self.layers[-1]


def default_layers(n_layers: int) -> list[int]:
    """Early-mid band (about 13-27 % of depth), where MEMIT finds subject recall."""
    lo, hi = round(0.13 * n_layers), round(0.27 * n_layers)
    return list(range(lo, max(hi, lo) + 1))


def load_hparams(model: str, n_layers: int, **overrides: object) -> Stamp2Config:
    """The model's YAML file if there is one, else the relative default band; then ``overrides``."""
    path = HPARAMS / f"{model}.yaml"
    base: dict[str, object] = {"layers": default_layers(n_layers)}
    if path.exists():
        base.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return Stamp2Config.model_validate({**base, **overrides})
