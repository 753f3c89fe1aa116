"""STAMP's typed settings: the spec saved with each edit and the search policy of a request.

``StampConfig`` is both at once (one flat model, so every field stays a keyword of ``repair.stamp``
and a ``--set`` key); ``.spec`` and ``.policy`` give the two parts. Per-model values, with the
measurements behind them, live in ``edit/hparams/stamp/<model>.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from repair.edit.capture import Positions
from repair.edit.verify import GUARD_KEEP

HPARAMS = Path(__file__).resolve().parent.parent / "hparams" / "stamp"

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


def load_hparams(model: str, root: Path = HPARAMS) -> dict[str, object]:
    """The settings in ``<root>/<model>.yaml`` (none if the model has no file), checked now: an unknown
    key or a bad value names the file instead of failing deep inside an edit."""
    path = root / f"{model.replace('/', '__')}.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of StampConfig fields, got {type(data).__name__}")
    unknown = sorted(set(data) - set(StampConfig.model_fields))
    if unknown:
        raise ValueError(
            f"{path}: unknown STAMP setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(StampConfig.model_fields)}"
        )
    try:
        StampConfig.model_validate(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e
    return data


def make_config(
    model: str | None, config: StampConfig | None = None, overrides: Mapping[str, object] | None = None
) -> StampConfig:
    """The model's YAML values, then the fields set on ``config``, then ``overrides``."""
    given = config.model_dump(exclude_unset=True) if config is not None else {}
    return StampConfig.model_validate(
        {**(load_hparams(model) if model else {}), **given, **(overrides or {})}
    )


def parse_overrides(items: Sequence[str]) -> dict[str, object]:
    """``["alpha_margin=1.5", "layers=[4,5]"]`` -> StampConfig overrides (JSON values, else strings).
    Unknown fields are an error here rather than deep inside an edit."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in StampConfig.model_fields:
            raise ValueError(
                f"bad override {item!r}: expected key=value with key one of "
                f"{', '.join(StampConfig.model_fields)}"
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
