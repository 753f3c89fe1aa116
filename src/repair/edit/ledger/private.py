"""What of an edit is public (kept in the index in plain) and what is private (sealed under the edit's
key): the forgotten text and everything derived from it that undo does not need. Standard library and
pydantic only: the forgotten text is read without torch (the forget keys, tensors, in ``tensors``)."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict

from repair.edit.ledger.crypto import operator_key, text_hmac
from repair.edit.record import EditMeta


def forget_hmacs(meta: EditMeta) -> list[str]:
    """Keyed hashes of the forgotten texts (``EditMeta.texts``), kept in plain for ``repair edits audit``."""
    texts = meta.texts()
    key = operator_key() if texts else None
    return sorted({text_hmac(t, key) for t in texts})


class PrivatePart(BaseModel):
    """An edit's sealed part, opened: ``meta`` holds ``EditMeta``'s private fields (the forgotten text, the
    full verdict); ``data`` is the safetensors blob that carries it in its header with the forget keys
    (``tensors.forget_keys`` reads those)."""

    model_config = ConfigDict(frozen=True)

    meta: EditMeta
    data: bytes

    @classmethod
    def of(cls, data: bytes) -> PrivatePart:
        """Read the header alone (8-byte length, then JSON): no tensor is loaded."""
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
        private = json.loads((header.get("__metadata__") or {}).get("private", "{}"))
        return cls(meta=EditMeta.load(private), data=data)
