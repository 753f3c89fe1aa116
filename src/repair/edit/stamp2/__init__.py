"""STAMP-2 (engine v2, experimental): forget an entity by moving its subject tokens onto the model's
refusal state.

* Once per model, one vector u is found at the residual stream after block L such that adding u at the
  last token of *any* entity's name makes the model reply "I don't have any information about <name>."
  (a gradient on that one vector over a fixed set of training entities and question templates: no
  weight is trained). It is cached on disk per model.
* Per request, closed form: the keys of the subject's last token in a few question templates are mapped
  to h + s·u by MEMIT-style ridge updates of the down maps of a band of layers ending at L, with the keep
  statistics C_K (as STAMP) deciding which directions may move.

Every phrasing that names the subject reads the edited subject state, so the refusal follows the subject
rather than one question; questions that do not name it (reverse questions) are not reached.
"""

from repair.edit.stamp2.config import Stamp2Config, load_hparams
from repair.edit.stamp2.edit import forget_subject, prepare
from repair.edit.stamp2.vector import refusal_vector

__all__ = ["Stamp2Config", "forget_subject", "load_hparams", "prepare", "refusal_vector"]
