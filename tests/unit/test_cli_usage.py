"""A usage error of any `repair` command (an unknown option or command, a bad or missing value, `repair
serve --host 0.0.0.0` without --keys) is one line that says which command's --help to read (issue 22,
item 4). Before, click printed a usage block and a boxed panel of up to six lines. `repair --help` stays
fast and readable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from repair.cli import app


@pytest.mark.parametrize(
    ("args", "says", "help_of"),
    [
        (["--bogus"], "no such option: --bogus", "repair"),
        (["nocmd"], "no such command 'nocmd'", "repair"),
        (["forget", "--alpha"], "option '--alpha' requires an argument", "repair forget"),
        (["forget"], "missing option '--prompt'", "repair forget"),
        (["serve", "--port", "abc"], "invalid value for '--port'", "repair serve"),
        (["serve", "--max-queue", "0"], "--max-queue", "repair serve"),
        (["serve", "--host", "0.0.0.0"], "refusing to serve on 0.0.0.0 without --keys", "repair serve"),
        (["edits", "list", "--nope"], "no such option: --nope", "repair edits list"),
        (["edits", "list", "--scope"], "option '--scope' requires an argument", "repair edits list"),
        (["edits", "nocmd"], "no such command 'nocmd'", "repair edits"),
        (["eval", "run", "--nope"], "no such option: --nope", "repair eval run"),
    ],
)
def test_a_usage_error_is_one_line_with_what_to_do(args, says, help_of, tmp_path, monkeypatch):
    monkeypatch.setenv("REPAIR_HOME", str(tmp_path))
    r = CliRunner().invoke(app, args, prog_name="repair")
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert r.exit_code == 2, r.output
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert says in lines[0] and f"`{help_of} --help`" in lines[0], r.output
    assert "╭" not in r.output and "Usage:" not in r.output and "Traceback" not in r.output


def test_help_is_readable():
    """`repair --help` lists the commands (its wall time is printed by benchmarks/responsiveness.py)."""
    exe = shutil.which("repair")
    cmd = [exe, "--help"] if exe else [sys.executable, "-c", "from repair.cli import app; app()", "--help"]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "100"}
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Usage: repair [OPTIONS] COMMAND [ARGS]..." in text
    for command in ("forget", "chat", "serve", "edits", "eval"):
        assert f"│ {command} " in text, text
    assert "error" not in text.lower().replace("one-line errors", "")
