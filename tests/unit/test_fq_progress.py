"""`repair eval forget-quality` progress when its output goes to a file."""

from __future__ import annotations


def test_a_run_logged_to_a_file_prints_plain_progress_lines(capsys) -> None:
    # rich draws no bar until the end when the output is not a terminal: an hour-long run under nohup
    # must still say how far it is (one line per 5 %, and at the end)
    from repair.eval.forget_quality.cli import _LogLines

    with _LogLines() as bar:
        task = bar.add_task("stamp2 on stress", total=40)
        for _ in range(40):
            bar.advance(task)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 20 and lines[-1].startswith("stamp2 on stress: 40/40,") and "min left" in lines[-1]
