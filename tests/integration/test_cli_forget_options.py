"""``repair forget`` refuses a bad --alpha, --recipe, --method or --rank in one line before the model is
loaded (issue 22, item 4). Before, each cost a model load and the 'before' generations (about a minute on
a CPU) and then printed pydantic's four-line validation error, or 'could not convert string to float'."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from repair.cli import app


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--alpha", "abc"], "--alpha must be 'auto' or a number, not 'abc'"),
        (["--recipe", "foo"], "recipe: Input should be 'repair' or 'paper'"),
        (["--method", "foo"], "method: Input should be 'stamp' or 'stamp-lr'"),
        (["--rank", "0"], "rank: Input should be greater than or equal to 1"),
    ],
)
def test_a_bad_option_is_one_line_before_the_model_loads(option, says):
    r = CliRunner().invoke(app, ["forget", "--prompt", "x", "--model", "no-such-model-anywhere", *option])
    out = " ".join(r.output.split())  # rich may wrap a long line
    assert r.exit_code == 2 and out.count("error:") == 1 and says in out, r.output
    assert "unknown model" not in out  # refused before the model is looked for
    assert len(r.output.strip().splitlines()) <= 2 and "validation error" not in out, r.output
