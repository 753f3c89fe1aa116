"""repair: interactive machine unlearning with closed-form, reversible MLP edits (RePAIR / STAMP)."""

from repair.edit.stamp import StampConfig, prepare, stamp
from repair.models.patient import Patient, load
from repair.session import Reply, Session

__all__ = ["Patient", "Reply", "Session", "StampConfig", "load", "prepare", "stamp"]
__version__ = "0.1.0"
