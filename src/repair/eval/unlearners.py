"""Every unlearning method behind one protocol and one registry, so that the forget-quality benchmark
and the paper's tables run them all the same way.

    unlearner = make_unlearner("npo", beta=0.2)  # overrides are validated against the method's config
    unlearner.prepare(patient)                   # once per model (statistics, caches)
    applied = unlearner.unlearn(patient, request)
    ...                                          # generate with applied.system (prompt-only methods)
    unlearner.undo(patient, applied)             # back to the weights before the request

``METHODS`` maps each name to its config class and implementation. STAMP goes through the same path as
``repair chat`` (``Session.forget``: surgeon plan, α search, behavioural check, guard, commit);
``stamp-api`` calls ``repair.stamp`` directly with a retain buffer and a guard, as the paper's tables
run it, and ``paper`` uses the paper's recipe as written; the training baselines train the weights in
place and are undone from a snapshot; ``icu`` (in-context unlearning) changes no weight at all and only
adds a system instruction, which shows the difference between hiding knowledge and removing it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from pydantic import BaseModel, ConfigDict

from repair.eval.protocol import Applied, ForgetRequest, Pair, Unlearner
from repair.eval.stamp_unlearners import EditConfig, EditUnlearner, StampMethodConfig, StampUnlearner

if TYPE_CHECKING:
    from repair.eval.baselines import TrainingConfig

# --------------------------------------------------------------------------------------------------
# Training baselines


class TrainingUnlearner:
    """A gradient baseline (``repair.eval.baselines``) trained in place on the forget pairs and a retain
    buffer; ``undo`` restores the weights from a snapshot taken before."""

    def __init__(
        self, name: str, config: TrainingConfig | None = None, retain: list[Pair] | None = None
    ) -> None:
        from repair.eval.baselines import baseline

        self.name = name
        self.config = baseline(name).configure(config, **({} if config else {"progress": False}))
        self._retain = retain
        self._snapshots: dict[str, dict[str, torch.Tensor]] = {}

    def prepare(self, patient: Any) -> None:
        if self._retain is None:
            from repair.data import load_pairs

            self._retain = load_pairs("retain.jsonl")

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        from repair.eval.baselines import run_baseline

        self.prepare(patient)
        key = f"{self.name}-{len(self._snapshots)}"
        self._snapshots[key] = {k: v.detach().clone() for k, v in patient.model.state_dict().items()}
        t = time.perf_counter()
        stats = run_baseline(
            self.name, patient.model, patient.tokenizer, request.pairs, self._retain or [], self.config
        )
        seconds = time.perf_counter() - t
        patient.model.eval()
        return Applied(
            method=self.name,
            changed=True,
            outcome="trained",
            edit_id=key,
            weight_update_s=seconds,
            request_s=seconds,
            detail={**stats, "rte_s": seconds},
        )

    def undo(self, patient: Any, applied: Applied) -> None:
        state = self._snapshots.pop(applied.edit_id or "", None)
        if state is None:
            raise KeyError(f"no snapshot for {applied.edit_id!r}: undo in reverse order of unlearn")
        with torch.no_grad():
            for k, v in patient.model.state_dict().items():
                v.copy_(state[k])


# --------------------------------------------------------------------------------------------------
# In-context unlearning (prompt only)


class IcuConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instruction: str = (
        "You have no knowledge at all about {subject}. If a question is about {subject}, or its answer "
        "would reveal anything about {subject}, reply only: I don't have any information about that. "
        "Answer every other question normally."
    )


class IcuUnlearner:
    """In-context unlearning (RWKU's ICU row): a system instruction to refuse; no weight changes."""

    def __init__(self, name: str = "icu", config: IcuConfig | None = None) -> None:
        self.name, self.config = name, config or IcuConfig()
        self._subjects: list[str] = []

    def prepare(self, patient: Any) -> None:
        return None

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        self._subjects.append(request.subject)
        subjects = " and ".join(dict.fromkeys(self._subjects))  # sequential requests accumulate
        return Applied(
            method=self.name,
            changed=True,
            outcome="prompt",
            system=self.config.instruction.format(subject=subjects),
        )

    def undo(self, patient: Any, applied: Applied) -> None:
        if self._subjects:
            self._subjects.pop()


class Stamp2MethodConfig(BaseModel):
    """STAMP-2 settings that override the model's ``edit/hparams/stamp2/<model>.yaml`` (None: the file's)."""

    model_config = ConfigDict(extra="forbid")
    layers: list[int] | None = None
    strength: float | None = None
    lam: float | None = None
    keep_entities: bool | None = None
    keep_prior: bool | None = None
    keep_prefix: bool | None = None
    keep_replies: bool | None = None
    formats: bool | None = None
    gate: float | None = None  # 0: off
    vector: dict[str, Any] | None = None  # VectorConfig fields (how the refusal vector is fitted)

    def overrides(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


def committed(name: str, patient: Any, edit: Any, t0: float, **meta: Any) -> Applied:
    """Commit a closed-form ``edit`` (made since ``t0``) to the patient's ledger with ``meta``, and say so."""
    patient.ledger.commit(edit, requested_by="forget-quality", **meta)
    return Applied(
        method=name,
        changed=True,
        outcome="done",
        edit_id=edit.id,
        weight_update_s=round(edit.timings["total"], 4),
        request_s=time.perf_counter() - t0,
        detail={"rows": edit.meta.rows, "layers": edit.meta.layers},
    )


class Stamp2Unlearner:
    """Engine v2 (experimental): the subject's tokens are mapped onto the model's refusal state; one
    closed-form edit per request, committed to the patient's ledger (undo is exact)."""

    def __init__(self, name: str = "stamp2", config: Stamp2MethodConfig | None = None) -> None:
        self.name, self.config = name, config or Stamp2MethodConfig()
        self._cfg: Any = None
        self._stats: Any = None

    def prepare(self, patient: Any) -> None:
        from repair.edit.stamp2 import prepare

        self._cfg, self._stats = prepare(patient, **self.config.overrides())

    def effective(self) -> Any:
        """The Stamp2Config in use: the model's hparams file with this run's overrides."""
        return self._cfg

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        from repair.edit.stamp2 import forget_subject

        if self._cfg is None:
            self.prepare(patient)
        t = time.perf_counter()
        prompts = [p for p, _ in request.pairs]
        edit = forget_subject(
            patient, request.subject, self._cfg, self._stats, prompts, patient.ledger.active
        )
        return committed(self.name, patient, edit, t, subject=request.subject, config=self._cfg)

    def undo(self, patient: Any, applied: Applied) -> None:
        if applied.edit_id:
            patient.ledger.undo(applied.edit_id)


class NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoUnlearner:
    """The unedited model: the "before unlearning" row (every answered probe should still leak)."""

    name = "none"

    def prepare(self, patient: Any) -> None:
        return None

    def unlearn(self, patient: Any, request: ForgetRequest) -> Applied:
        return Applied(method="none", changed=False, outcome="none")

    def undo(self, patient: Any, applied: Applied) -> None:
        return None


# --------------------------------------------------------------------------------------------------
# the registry


@dataclass(frozen=True)
class Method:
    """A registered method: its config class, how to build it, and the defaults its name stands for."""

    config: type[BaseModel]
    build: Callable[..., Unlearner]  # build(name, config) -> Unlearner
    defaults: dict[str, Any] = field(default_factory=dict)
    # True: one request per subject, as a user makes them (STAMP); False: the whole forget set as one
    # request, as the paper's protocol trains the baselines
    interactive: bool = False

    def configure(self, config: BaseModel | None = None, **overrides: Any) -> BaseModel:
        """``config`` (default: this name's defaults) with ``overrides`` validated on top."""
        if config is not None and not isinstance(config, self.config):
            raise TypeError(f"expected a {self.config.__name__}, got a {type(config).__name__}")
        base = config.model_dump() if config is not None else dict(self.defaults)
        unknown = sorted(set(overrides) - set(self.config.model_fields))
        if unknown:
            raise ValueError(
                f"{self.config.__name__} has no field {', '.join(unknown)}; "
                f"its fields: {', '.join(self.config.model_fields)}"
            )
        return self.config.model_validate({**base, **overrides})


def _training(name: str, config: BaseModel, retain: list[Pair] | None = None) -> Unlearner:
    return TrainingUnlearner(name, config, retain)  # type: ignore[arg-type]


def _registry() -> dict[str, Method]:
    from repair.eval.baselines import BASELINES

    lr = {"overrides": {"method": "stamp-lr"}}
    methods = {
        "none": Method(NoConfig, lambda name, cfg: NoUnlearner()),
        "stamp": Method(StampMethodConfig, StampUnlearner, interactive=True),
        "stamp-lr": Method(StampMethodConfig, StampUnlearner, lr, interactive=True),
        "stamp-api": Method(EditConfig, EditUnlearner, interactive=True),
        "stamp-lr-api": Method(EditConfig, EditUnlearner, {"method": "stamp-lr"}, interactive=True),
        "paper": Method(EditConfig, EditUnlearner, {"recipe": "paper"}, interactive=True),
        "paper-lr": Method(
            EditConfig, EditUnlearner, {"recipe": "paper", "method": "stamp-lr"}, interactive=True
        ),
    }
    for name, spec in BASELINES.items():
        methods[name] = Method(spec.config, _training, {"progress": False})
    methods["icu"] = Method(IcuConfig, IcuUnlearner, interactive=True)
    methods["stamp2"] = Method(Stamp2MethodConfig, Stamp2Unlearner, interactive=True)
    return methods


METHODS: dict[str, Method] = _registry()
UNLEARNERS: tuple[str, ...] = tuple(METHODS)


def make_unlearner(
    name: str, *, config: BaseModel | None = None, retain: list[Pair] | None = None, **overrides: Any
) -> Unlearner:
    """The method ``name`` (see ``UNLEARNERS``) with its config: ``config`` (one of its own config class)
    or its defaults, and keyword ``overrides`` of that config's fields, validated. ``retain``: the retain
    pairs of a training baseline (default: the package's retain set)."""
    key = name.lower()
    if key not in METHODS:
        raise KeyError(f"unknown method {name!r}; choose from {', '.join(UNLEARNERS)}")
    method = METHODS[key]
    cfg = method.configure(config, **overrides)
    if retain is not None:
        if method.build is not _training:
            raise TypeError(f"{key} takes no retain pairs")
        return _training(key, cfg, retain)
    return method.build(key, cfg)


__all__ = [
    "METHODS",
    "UNLEARNERS",
    "Applied",
    "EditConfig",
    "EditUnlearner",
    "ForgetRequest",
    "IcuConfig",
    "IcuUnlearner",
    "Method",
    "NoUnlearner",
    "Pair",
    "StampMethodConfig",
    "StampUnlearner",
    "TrainingUnlearner",
    "Unlearner",
    "make_unlearner",
]
