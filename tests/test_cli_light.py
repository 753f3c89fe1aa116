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
