"""`repair serve`'s limit options reach `serve` as a typed model, not a loose dict (issue 24)."""

from __future__ import annotations

import typing
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from repair.serve.app import serve
from repair.serve.hub import LimitOptions, Limits


def test_serve_takes_typed_limit_options():
    assert typing.get_type_hints(serve)["limits"] == LimitOptions | None
    with pytest.raises(ValidationError):
        LimitOptions(max_qeue=3)  # a misspelt option fails where it is made


def test_limit_options_override_the_models_defaults():
    model = SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(max_position_embeddings=256)))
    opts = LimitOptions(max_queue=3, timeout_s=5.0)
    lim = Limits.for_model(model, 16, **opts.model_dump())
    assert (lim.max_queue, lim.timeout_s, lim.max_tokens, lim.max_body) == (3, 5.0, 128, 16_384)
    assert Limits.for_model(model, 16, **LimitOptions().model_dump()) == Limits.for_model(model, 16)
