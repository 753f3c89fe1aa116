"""What of an edit is public (kept in the index in plain) and what is private (sealed under the edit's
key): the forgotten text and everything derived from it that undo does not need."""

from __future__ import annotations

import json
from typing import Any

import torch
from safetensors.torch import load, save

from repair.edit.delta import Edit
from repair.edit.ledger.crypto import operator_key, text_hmac
from repair.edit.record import EditMeta


def forget_hmacs(meta: EditMeta) -> list[str]:
    """Keyed hashes of the forgotten texts (``EditMeta.texts``), kept in plain for ``repair edits audit``."""
    texts = meta.texts()
    key = operator_key() if texts else None
    return sorted({text_hmac(t, key) for t in texts})


def pack(edit: Edit, private: dict[str, Any]) -> bytes:
    """The private meta and the forget keys (activations of the forgotten text), as safetensors bytes."""
    tensors = {
        f"{d.key}.keys": d.keys.detach().float().contiguous() for d in edit.deltas if d.keys is not None
    }
    return save(tensors, metadata={"private": json.dumps(private, default=str)})


def unpack(data: bytes) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    tensors = load(data)
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    private = json.loads((header.get("__metadata__") or {}).get("private", "{}"))
    return private, {k.removesuffix(".keys"): v for k, v in tensors.items()}
