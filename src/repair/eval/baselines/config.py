"""Typed configs of the training baselines: one shared optimiser config, one subclass per method.

Defaults follow the RePAIR paper's protocol (two epochs, AdamW) and each method's paper where it
names a value; values marked "ours" are choices for models without a published setting. Every
config forbids unknown fields, so a misspelt override fails where it is given.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FDivergence = Literal[
    "kl",
    "reverse-kl",
    "jeffrey",
    "squared-hellinger",
    "pearson",
    "neyman",
    "jensen-shannon",
    "total-variation",
]


class TrainingConfig(BaseModel):
    """What every training baseline shares: data layout, optimiser and loop."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(2, ge=1)
    lr: float = Field(1e-5, gt=0)
    batch_size: int = Field(4, ge=1)
    max_length: int = Field(256, ge=8)
    seed: int = 0
    weight_decay: float = Field(0.01, ge=0)  # TOFU / FLAT trainers
    max_grad_norm: float | None = 1.0  # HF Trainer default clipping
    max_steps: int | None = Field(None, ge=1)  # hard cap on optimizer steps (None: epochs decide)
    progress: bool = True  # tqdm bar
    amp: bool = False  # bf16 autocast while training (the eval runner's --amp)


class RetainTrainingConfig(TrainingConfig):
    """A baseline with a retain NLL term (gradient difference)."""

    retain_weight: float = Field(1.0, ge=0)  # 0: forget-only


class GaConfig(RetainTrainingConfig):
    """Gradient ascent with a retain term (Yao et al., 2023)."""


class NpoConfig(RetainTrainingConfig):
    """NPO (Zhang et al., 2024)."""

    beta: float = Field(0.1, gt=0)


class WgaConfig(RetainTrainingConfig):
    """WGA (Wang et al., 2025, G-effect): token weight p(y_t)^alpha."""

    alpha: float = Field(1.0, ge=0)


class AsuConfig(RetainTrainingConfig):
    """ASU (Zare Zade et al., 2026): attention softmax temperature of the forget-teacher."""

    temperature: float = Field(2.0, gt=0)  # ours: the paper tunes T per benchmark


class FlatConfig(TrainingConfig):
    """FLAT (Wang et al., 2025): forget data only, an f-divergence against template answers."""

    divergence: FDivergence = "kl"
    refusals: tuple[str, ...] = Field(
        (
            "I don't know.",
            "I'm not sure about that.",
            "I cannot answer that question.",
            "I have no information about that.",
        ),
        min_length=1,
    )


class RmuConfig(TrainingConfig):
    """RMU (Li et al., 2024, WMDP) as the reference zephyr-7b run sets it, with c scaled per model.

    Measured on SmolLM2-135M-Instruct, two facts (``benchmarks/rmu_check.py``):

    * ``steps``: the reference trains 150 batches whatever the corpus size; two epochs over one request's
      1-3 pairs were 2 steps, which left the three matrices unchanged (KL 0.000 on every task).
    * ``steering_scale``: the reference's c = 6.5 is an absolute length chosen for Zephyr-7B. SmolLM2's
      block-7 output is ~120 long per token (median 117, one outlier coordinate carries much of it), so
      c * u with c = 6.5 is far *shorter* than the activations it should replace: after 150 steps at
      lr 1e-5 the forget activations kept their norm (116) and had cosine 0.00 with u, KL 3.9e-5 and
      both facts still answered under both wordings (4/4 leaks). Adaptive RMU (Dang et al., 2025; their
      code's default scale 5) sets c = scale * the unedited model's mean forget-activation norm, so one
      default fits every model; ``steering_coeff`` is the absolute c used when ``steering_scale`` is None.
    * ``lr``: 5e-4, ten times the reference's 5e-5. Adam moves each weight by about lr per step whatever the
      gradient, and SmolLM2's down_proj weights are large (rms 0.18 in layers 5-7), so 150 steps at 5e-5
      move them by at most 4 %: with the adaptive c the forget activations still had cosine 0.05 with u,
      KL 5.1e-4, 4/4 leaks. At 5e-4: cosine 0.50, KL 3.5e-2 on generic prompts, 0/4 leaks; the forget
      replies turn to gibberish ("favour  new"), RMU's known behaviour, not a refusal.
    """

    lr: float = Field(5e-4, gt=0)
    steering_coeff: float = Field(6.5, gt=0)  # absolute c (the reference value), when steering_scale is None
    steering_scale: float | None = Field(5.0, gt=0)  # c = scale * mean forget-activation norm (adaptive RMU)
    layer: int | None = None  # None: the layer at depth 7/32, as in the reference run
    alpha: float = Field(1200.0, ge=0)  # retain activation-matching weight
    update_layers: int = Field(3, ge=1)  # update layers [layer-k+1, layer]
    params: tuple[str, ...] = ("mlp.down_proj",)  # name fragments of trained params
    steps: int | None = Field(150, ge=1)  # None: `epochs` passes, as the other baselines
