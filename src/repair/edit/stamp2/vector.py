"""The per-model refusal vector u: added at the last token of an entity's name after block L, it makes the
model answer questions about that entity with "I don't have any information about <name>."

Found once per model by gradient descent on u alone (no weight changes) over entities and templates that
are not in any evaluation split, then cached; a copy for a bundled model can ship in
``repair/data/refusal_vectors/<model>.json`` so a fresh install needs no computation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources

import torch

from repair.edit.capture import right_padded
from repair.edit.stamp2.config import VectorConfig
from repair.edit.stamp2.subject import bare, chat_ids, mentions, subject_positions

log = logging.getLogger(__name__)

REFUSAL = "I don't have any information about {name}."
# training subjects for u: famous entities of several kinds, named nowhere in the forget-quality splits
VECTOR_SUBJECTS = (
    "Albert Einstein", "William Shakespeare", "Leonardo da Vinci", "Frida Kahlo", "Florence Nightingale",
    "Genghis Khan", "Boeing", "IKEA", "the Mona Lisa", "Hamlet",
)  # fmt: skip
TEMPLATES = (
    "Who is {s}?",
    "Tell me about {s}.",
    "What do you know about {s}?",
    "What is {n} known for?",
    "Give me one fact about {n}.",
    "Where is {n} from?",
    "Complete the sentence: {s} is",
    "Q: What is {n} famous for? A:",
)


def edit_prompts(subject: str, n: int = len(TEMPLATES)) -> list[str]:
    """Question templates naming the subject (full name and short name)."""
    names = mentions(subject)
    s, short = names[0], names[-1]
    return list(dict.fromkeys(t.format(s=s, n=short) for t in TEMPLATES[:n]))


@contextmanager
def add_at(block: torch.nn.Module, positions: list[list[int]], vector: torch.Tensor) -> Iterator[None]:
    """Add ``vector`` to block's output at the given positions of each row (prefill only)."""

    def hook(_m: torch.nn.Module, _a: tuple, out: object) -> object:
        hs = out[0] if isinstance(out, tuple) else out
        if hs.shape[1] == 1:  # a decoding step: the positions are in the cache already
            return out
        hs = hs.clone()
        for i, pos in enumerate(positions):
            if pos:
                hs[i, pos] = hs[i, pos] + vector.to(hs.dtype)
        return (hs, *out[1:]) if isinstance(out, tuple) else hs

    handle = block.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _training_batch(tok, subjects: Sequence[str], n_templates: int):
    seqs, poss, spans = [], [], []
    for subject in subjects:
        refusal = REFUSAL.format(name=bare(subject))
        for prompt in edit_prompts(subject, n_templates):
            ids, _, n_prompt, _ = chat_ids(tok, prompt, refusal + (tok.eos_token or ""))
            pos = subject_positions(tok, prompt, subject)
            if pos:
                seqs.append(ids), poss.append(pos), spans.append((n_prompt, len(ids)))
    ids, mask = right_padded(seqs, tok.pad_token_id or 0)
    labels = torch.full_like(ids, -100)
    for i, (a, b) in enumerate(spans):
        labels[i, a:b] = ids[i, a:b]
    return ids, mask, labels, poss


def fit_vector(
    patient, layer: int, cfg: VectorConfig, subjects: Sequence[str] = VECTOR_SUBJECTS, progress: bool = True
) -> torch.Tensor:
    """Gradient descent on u alone: mean NLL of the refusal after each templated question."""
    from tqdm.auto import tqdm

    model, tok = patient.model, patient.tokenizer
    ids, mask, labels, poss = _training_batch(tok, subjects, cfg.templates_per_subject)
    device = next(model.parameters()).device
    ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
    u = torch.zeros(model.config.hidden_size, device=device, requires_grad=True)
    opt = torch.optim.Adam([u], lr=cfg.lr)
    block = patient.arch.blocks(model)[layer]
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        bar = tqdm(range(cfg.steps), desc="refusal vector (once per model)", disable=not progress)
        for _ in bar:
            opt.zero_grad()
            total = 0.0
            for s in range(0, len(ids), 16):  # chunks bound the activation memory
                sl = slice(s, s + 16)
                with add_at(block, poss[sl], u):
                    logits = model(input_ids=ids[sl], attention_mask=mask[sl]).logits[:, :-1].float()
                lab = labels[sl, 1:]
                nll = torch.nn.functional.cross_entropy(
                    logits.transpose(1, 2), lab, ignore_index=-100, reduction="sum"
                )
                loss = nll / (labels[:, 1:] != -100).sum()
                loss.backward()
                total += float(loss.detach())
            bar.set_postfix(nll=round(total, 3), norm=round(float(u.norm()), 1))
            opt.step()
    finally:
        for p, f in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(f)
    return u.detach().float().cpu()


def _shipped(model_name: str, layer: int, tag: str) -> torch.Tensor | None:
    try:
        raw = resources.files("repair.data").joinpath(f"refusal_vectors/{model_name}.json").read_text()
    except (FileNotFoundError, OSError):
        return None
    d = json.loads(raw)
    if d.get("layer") != layer or d.get("tag") != tag:
        return None
    return torch.tensor(d["vector"], dtype=torch.float32)


def vector_tag(cfg: VectorConfig) -> str:
    return f"s{cfg.steps}-lr{cfg.lr}-t{cfg.templates_per_subject}-n{len(VECTOR_SUBJECTS)}"


def refusal_vector(patient, layer: int, cfg: VectorConfig | None = None, stats=None) -> torch.Tensor:
    """u for this model at ``layer``: shipped, cached on disk, or fitted now (then cached)."""
    cfg = cfg or VectorConfig()
    tag = vector_tag(cfg)
    key = f"stamp2-u-{layer}-{tag}"
    if key in patient.cache:
        return patient.cache[key]
    u = _shipped(patient.name, layer, tag)
    if u is None and stats is not None:
        u = stats._load(f"{key}.pt")
    if u is None:
        log.warning(
            "fitting STAMP-2's refusal vector for %s at layer %d (once per model)", patient.name, layer
        )
        u = fit_vector(patient, layer, cfg)
        if stats is not None:
            stats._save(f"{key}.pt", u)
    patient.cache[key] = u
    return u
