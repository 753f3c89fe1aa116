"""What of an edit is public (kept in the index in plain) and what is private (sealed under the edit's
key): the forgotten text and everything derived from it that undo does not need."""

from __future__ import annotations

import json
from typing import Any

import torch
from safetensors.torch import load, save

from repair.edit.delta import Edit
from repair.edit.ledger.crypto import operator_key, text_hmac

# meta keys kept in plain: settings and figures, never text the user asked to forget
PUBLIC_META = {
    "alpha", "config", "requested_by", "layers", "screened", "bands_tried", "collateral", "rows", "method",
    "strength", "plan_source", "request_source", "uncommitted_reason", "lam", "engine",
}  # fmt: skip
PUBLIC_VERIFICATION = {"forgotten", "fraction", "refusal_rate", "substitute_rate", "refused", "ok"}
PUBLIC_GUARD = {"ok", "kept", "total", "lost"}
TEXT_KEYS = ("target", "subject", "answer")  # single strings hashed for audit


def split_meta(meta: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, private): public holds settings and verification figures; the rest is private."""
    public = {k: v for k, v in meta.items() if k in PUBLIC_META}
    private = {k: v for k, v in meta.items() if k not in PUBLIC_META}
    ver = meta.get("verification")
    if isinstance(ver, dict):
        pub = {k: v for k, v in ver.items() if k in PUBLIC_VERIFICATION}
        if isinstance(ver.get("guard"), dict):
            pub["guard"] = {k: v for k, v in ver["guard"].items() if k in PUBLIC_GUARD}
        if isinstance(ver.get("probes"), list):
            pub["n_probes"] = len(ver["probes"])
        public["verification"] = pub
    return public, private


def forget_texts(meta: dict[str, Any]) -> list[str]:
    """Every forgotten text an audit may ask about: prompts, answers, paraphrases, target, subject."""
    texts: list[str] = []
    for pair in meta.get("forget") or []:
        texts += [str(x) for x in pair]
    texts += [str(p) for p in meta.get("paraphrases") or []]
    texts += [str(meta[k]) for k in TEXT_KEYS if meta.get(k)]
    return [t for t in dict.fromkeys(texts) if t.strip()]


def forget_hmacs(meta: dict[str, Any]) -> list[str]:
    texts = forget_texts(meta)
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
