"""Greedy decoding that drops finished rows: the same tokens as `generate`, and its stop rules."""

from __future__ import annotations

import torch

from repair.models.decoding import greedy

EOS = 7


class _Tok:  # token ids as words: enough for the stop rules, which look at the reply text
    eos_token_id = EOS

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return " ".join(str(i) for i in ids if i != EOS)


def _batch(lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    width = max(lengths)
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, width - n :] = torch.randint(EOS + 1, 101, (n,))
        mask[i, width - n :] = 1
    return ids, mask


def test_same_tokens_as_generate_with_rows_ending_early(tiny_llama):
    tiny_llama.generation_config.eos_token_id = EOS
    ids, mask = _batch([5, 9, 6, 30, 12])
    ref = tiny_llama.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=20, do_sample=False, pad_token_id=0
    )
    # a row that leaves at its 3rd token must not change the others
    out = greedy(
        tiny_llama, _Tok(), ids, mask, max_new_tokens=20, until=lambda i, r: i == 1 and len(r.split()) >= 3
    )
    for i, row in enumerate(ref[:, ids.shape[1] :].tolist()):
        row = row[: row.index(EOS) + 1] if EOS in row else row
        assert out[i] == (row[:3] if i == 1 else row)


def test_stop_when_ends_every_row_at_the_same_step(tiny_llama):
    tiny_llama.generation_config.eos_token_id = None
    tok = _Tok()
    tok.eos_token_id = None  # no end-of-sequence token: only the stop rules end rows
    ids, mask = _batch([5, 9, 6])
    out = greedy(
        tiny_llama, tok, ids, mask, max_new_tokens=20, stop_when=lambda i, r: i == 2 and len(r.split()) >= 4
    )
    assert [len(o) for o in out] == [4, 4, 4]
    assert [len(o) for o in greedy(tiny_llama, tok, ids, mask, max_new_tokens=6)] == [6, 6, 6]


def test_a_cached_prefix_gives_the_same_tokens(tiny_llama):
    """``prefix``: a cache holding the prompt's first positions (the watchdog LLM's system turn); only the
    rest is computed, and the reply is the one a full prefill gives."""
    from transformers import DynamicCache

    from repair.models.decoding import cache_kw

    tiny_llama.generation_config.eos_token_id = EOS
    ids, mask = _batch([20])
    full = greedy(tiny_llama, _Tok(), ids, mask, max_new_tokens=12)
    cache = DynamicCache()
    with torch.no_grad():
        tiny_llama(input_ids=ids[:, :8], use_cache=True, **cache_kw(tiny_llama, cache))
    assert greedy(tiny_llama, _Tok(), ids, mask, max_new_tokens=12, prefix=cache) == full
