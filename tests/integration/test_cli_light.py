"""The CLI starts without torch: `repair --help` and the ledger's read-only commands stay fast."""

from __future__ import annotations

import subprocess
import sys


def test_cli_import_does_not_load_torch():
    code = "import sys, repair, repair.cli; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_lazy_names_resolve():
    import repair

    assert repair.Session.__name__ == "Session" and callable(repair.load) and callable(repair.stamp)
    assert set(repair.__all__) <= set(dir(repair))


def test_edits_list_reads_a_chat_sessions_folder_without_a_model(tmp_path):
    """`repair edits list --session DIR` finds the ledger in DIR/ledger (where `repair chat --session DIR`
    keeps it) and reads it without loading a model: transformers is never imported."""
    from ledger_child import make_edit, tiny_llama

    from repair.edit.ledger import Ledger
    from repair.models.arch import arch_for

    model = tiny_llama()
    Ledger(model, arch_for(model), "fp", tmp_path / "chat" / "ledger").commit(make_edit("e1", 1))
    code = (
        "import sys; from typer.testing import CliRunner; from repair.cli import app; "
        f"r = CliRunner().invoke(app, ['edits', 'list', '--session', {str(tmp_path / 'chat')!r}], "
        "env={'COLUMNS': '200'}); print(r.output); "
        "assert r.exit_code == 0, r.output; assert 'transformers' not in sys.modules, 'a model was loadable'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout
    row = next(line for line in out.stdout.splitlines() if " e1 " in line)
    assert "active" in row and "sealed" in row and "down" in row
