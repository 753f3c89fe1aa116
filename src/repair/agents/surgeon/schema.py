"""The plan schema: what a repair plan may say, with every setting bounded.

Validate with ``context={"n_layers": L}`` so that layers are bounded by the patient's depth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from repair.edit.paraphrases import MAX_PARAPHRASE_CHARS
from repair.edit.subjects import norm

GenerateFn = Callable[[list[dict]], str]

MAX_FORGET_CHARS = 20_000
MAX_PARAPHRASES = 8
MAX_LAYERS = 1024  # used when the patient's depth is not given
MAX_RANK = 4096
MAX_LAM = 1000.0
MAX_ALPHA = 64.0
MAX_RATIONALE_CHARS = 400
MAX_RAW_CHARS = 20_000  # longer LLM output is cut before parsing

MapName = Literal["gate", "up", "down"]
_MAP_ORDER = ("gate", "up", "down")
Paraphrase = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PARAPHRASE_CHARS)
]


class RepairPlan(BaseModel):
    """How to forget one (prompt, response) pair. Validate with ``context={"n_layers": L}``."""

    # No global whitespace stripping: the forget pair must stay byte-for-byte what the caller gave.
    model_config = ConfigDict(extra="forbid")

    method: Literal["stamp", "stamp-lr"]
    layers: Literal["auto"] | list[StrictInt]
    maps: list[MapName] = Field(min_length=1)
    rank: StrictInt | None = Field(default=None, ge=1, le=MAX_RANK)
    lam: float = Field(gt=0, le=MAX_LAM, allow_inf_nan=False)
    alpha: Literal["auto"] | Annotated[float, Field(gt=0, le=MAX_ALPHA, allow_inf_nan=False)]
    # "exact" is the engine's default; "delta" (ridge) barely moves a forget row on small models.
    solver: Literal["exact", "delta", "paper"] = "exact"
    forget_prompt: str = Field(min_length=1, max_length=MAX_FORGET_CHARS)
    forget_response: str = Field(default="", max_length=MAX_FORGET_CHARS)
    paraphrases: list[Paraphrase] = Field(default_factory=list, max_length=MAX_PARAPHRASES)
    subject: str | None = Field(default=None, max_length=200)
    rationale: str = Field(default="", max_length=MAX_RATIONALE_CHARS)

    @field_validator("lam", "alpha", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("a number is required, not a boolean")
        return v

    @field_validator("layers", mode="before")
    @classmethod
    def _layer_int_to_list(cls, v: Any) -> Any:
        # A single index is a common way to write one layer; bool is not an index.
        if isinstance(v, int) and not isinstance(v, bool):
            return [v]
        return v

    @field_validator("layers")
    @classmethod
    def _layers_in_range(cls, v: Literal["auto"] | list[int], info: ValidationInfo) -> Any:
        if v == "auto":
            return v
        n_layers = (info.context or {}).get("n_layers") or MAX_LAYERS
        if not v:
            raise ValueError('layers must be "auto" or a non-empty list')
        bad = [i for i in v if not 0 <= i < n_layers]
        if bad:
            raise ValueError(f"layer indices {bad} out of range [0, {n_layers - 1}]")
        return sorted(set(v))

    @field_validator("maps")
    @classmethod
    def _maps_unique(cls, v: list[str]) -> list[str]:
        return [m for m in _MAP_ORDER if m in v]

    @field_validator("paraphrases")
    @classmethod
    def _paraphrases_unique(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        out = []
        for p in v:
            key = norm(p)
            if key and key not in seen:
                seen.add(key)
                out.append(p)
        return out

    @field_validator("subject")
    @classmethod
    def _empty_subject_is_none(cls, v: str | None) -> str | None:
        return (v or "").strip() or None

    @field_validator("rationale", mode="before")
    @classmethod
    def _short_rationale(cls, v: Any) -> Any:
        # The rationale is display text only; a long one is cut rather than rejected.
        if isinstance(v, str):
            return v.strip()[:MAX_RATIONALE_CHARS]
        return v

    @model_validator(mode="after")
    def _rank_matches_method(self) -> RepairPlan:
        if self.method == "stamp-lr" and self.rank is None:
            raise ValueError("rank is required for method 'stamp-lr'")
        if self.method == "stamp":
            self.rank = None  # rank has no meaning for the exact solve
        return self

    # -- rendering ---------------------------------------------------------------------------------

    def to_stamp_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``repair.stamp(patient, **kwargs)`` that carry out this plan."""
        kwargs: dict[str, Any] = {
            "forget": [(self.forget_prompt, self.forget_response)],
            "paraphrases": list(self.paraphrases),
            "layers": self.layers if self.layers == "auto" else list(self.layers),
            "maps": tuple(self.maps),
            "method": self.method,
        }
        if self.method == "stamp-lr":
            kwargs["rank"] = self.rank
        kwargs.update(alpha=self.alpha, lam=self.lam, solver=self.solver)
        return kwargs

    def to_python(self, model_name: str = "smollm2-135m-instruct") -> str:
        """A readable snippet equivalent to this plan. Every value is written with repr(), so the
        text of the forget pair cannot break out of its string literal. It is shown, never run."""
        kw = self.to_stamp_kwargs()
        lines = [
            "import repair",
            "",
            f"patient = repair.load({model_name!r})",
            "edit = repair.stamp(",
            "    patient,",
            f"    forget=[({self.forget_prompt!r}, {self.forget_response!r})],",
        ]
        if self.paraphrases:
            lines.append("    paraphrases=[")
            lines += [f"        {p!r}," for p in self.paraphrases]
            lines.append("    ],")
        else:
            lines.append("    paraphrases=[],")
        for key in ("layers", "maps", "method", "rank", "alpha", "lam", "solver"):
            if key in kw:
                lines.append(f"    {key}={kw[key]!r},")
        lines += [")", "print(edit.id, edit.layers, edit.maps)", ""]
        return "\n".join(lines)


class PlanError(ValueError):
    """Raw LLM output that is not a valid plan. ``errors`` are short, input-free messages."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors
