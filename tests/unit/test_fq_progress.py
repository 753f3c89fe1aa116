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


def test_a_resumed_run_times_what_is_left_on_new_work_only(capsys, monkeypatch) -> None:
    # 30 of 40 targets were done before the stop (skipped at once), each new one takes a minute:
    # the time left is 10 minutes, not the 0.3 a rate over all 40 would give
    import repair.eval.forget_quality.cli as cli

    clock = [1000.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    with cli._LogLines() as bar:
        task = bar.add_task("wga on test", total=40)
        for _ in range(30):
            bar.advance(task)
        clock[0] += 60.0
        bar.advance(task)
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == "wga on test: 31/40, 1.0 min, about 9 min left"
