"""Training-based unlearning baselines compared against STAMP in the RePAIR paper (Sec. 2, 5.1).

Every baseline has the same signature::

    unlearn(model, tokenizer, forget, retain, config) -> dict

It trains the Hugging Face causal LM `model` in place on chat-templated (prompt, response) pairs
and returns stats (steps, final and last-epoch losses, wall seconds). Each method has its own typed
config (``repair.eval.baselines.config``); look methods up by name::

    from repair.eval.baselines import run_baseline
    stats = run_baseline("npo", patient.model, patient.tokenizer, forget, retain, epochs=2, beta=0.2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from . import asu, flat, ga, npo, rmu, wga
from .common import Pair, device_of
from .config import (
    AsuConfig,
    FlatConfig,
    GaConfig,
    NpoConfig,
    RetainTrainingConfig,
    RmuConfig,
    TrainingConfig,
    WgaConfig,
)


@dataclass(frozen=True)
class Baseline:
    """A registered baseline: its config class and its training function."""

    config: type[TrainingConfig]
    unlearn: Callable[..., dict]

    def configure(self, config: TrainingConfig | None = None, **overrides) -> TrainingConfig:
        """This method's config: ``config`` (or the defaults) with ``overrides`` validated on top."""
        if config is not None and not isinstance(config, self.config):
            raise TypeError(f"expected a {self.config.__name__}, got a {type(config).__name__}")
        base = config.model_dump() if config is not None else {}
        return self.config.model_validate({**base, **overrides})


BASELINES: dict[str, Baseline] = {
    "ga": Baseline(GaConfig, ga.unlearn),
    "npo": Baseline(NpoConfig, npo.unlearn),
    "rmu": Baseline(RmuConfig, rmu.unlearn),
    "flat": Baseline(FlatConfig, flat.unlearn),
    "wga": Baseline(WgaConfig, wga.unlearn),
    "asu": Baseline(AsuConfig, asu.unlearn),
}


def baseline(name: str) -> Baseline:
    key = name.lower()
    if key not in BASELINES:
        raise KeyError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")
    return BASELINES[key]


def run_baseline(
    name: str,
    model,
    tokenizer,
    forget: Sequence[Pair],
    retain: Sequence[Pair],
    config: TrainingConfig | None = None,
    **overrides,
) -> dict:
    """Run baseline `name` (case-insensitive); keyword overrides are validated against its config."""
    spec = baseline(name)
    cfg = spec.configure(config, **overrides)
    # bf16 autocast around the whole call: NPO's reference pass and ASU's teacher run under it too
    amp = torch.autocast(device_of(model).type, dtype=torch.bfloat16) if cfg.amp else nullcontext()
    with amp:
        return spec.unlearn(model, tokenizer, list(forget), list(retain), cfg)


__all__ = [
    "BASELINES",
    "AsuConfig",
    "Baseline",
    "FlatConfig",
    "GaConfig",
    "NpoConfig",
    "Pair",
    "RetainTrainingConfig",
    "RmuConfig",
    "TrainingConfig",
    "WgaConfig",
    "baseline",
    "run_baseline",
]
