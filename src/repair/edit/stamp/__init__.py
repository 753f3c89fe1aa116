"""STAMP / STAMP-LR: single-sample, training-free unlearning by closed-form MLP weight edits.

Two recipes share this entry point:

* ``recipe="paper"`` reproduces RePAIR section 4.2: the mean-difference steering vector (eq. 4),
  one layer picked by forget/refusal cosine separation, ridge solve (eq. 8-9) on gate, up, down.
* ``recipe="repair"`` (default) is what worked on small chat models here: the target shift is the
  model's own refusal direction, spread over a band of layers of the down map, and the forget rows
  are moved *exactly* by it (equality-constrained least squares, as ROME/MEMIT do) while the keep
  statistics C_K decide which directions may move. ``alpha="auto"`` raises the strength (×1.5) until the
  edited model verifiably stops giving the answer.

The pieces: ``config`` (the settings and the per-model YAML), ``bands`` (which layers), ``solve`` (the
closed form at one α), ``search`` (the α search on one band), ``select`` (which band's edit is kept),
``guard`` (the check and the guard questions) and ``engine`` (``stamp`` and ``prepare``).
"""

from repair.edit.stamp.bands import auto_layers, fallback_layers
from repair.edit.stamp.config import SearchPolicy, StampConfig, StampSpec, load_hparams, parse_overrides
from repair.edit.stamp.engine import prepare, stamp
from repair.edit.stamp.guard import guard_now, guard_set
from repair.edit.stamp.solve import novel_positions

__all__ = [
    "SearchPolicy",
    "StampConfig",
    "StampSpec",
    "auto_layers",
    "fallback_layers",
    "guard_now",
    "guard_set",
    "load_hparams",
    "novel_positions",
    "parse_overrides",
    "prepare",
    "stamp",
]
