"""CPU steal time, for honest timings on shared virtual machines.

On an oversubscribed host the hypervisor takes vCPUs away for whole seconds (measured here: a 1.2 s
generation took 3.8 s while 3.6 CPU-seconds were stolen). Benchmarks record the steal during each
timed step so that a slow figure can be told apart from a slow machine.
"""

from __future__ import annotations

import os
from pathlib import Path

_STAT = Path("/proc/stat")


def steal_seconds() -> float | None:
    """CPU time stolen from this machine since boot, in seconds per CPU (Linux; None elsewhere)."""
    try:
        fields = _STAT.read_text().split("\n", 1)[0].split()
        ticks = int(fields[8])  # cpu user nice system idle iowait irq softirq steal ...
    except (OSError, IndexError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK") / (os.cpu_count() or 1)


class StealMeter:
    """``with StealMeter() as m: ...`` then ``m.seconds``: steal per CPU during the block (None off Linux)."""

    def __enter__(self) -> StealMeter:
        self._start, self.seconds = steal_seconds(), None
        return self

    def __exit__(self, *exc: object) -> None:
        end = steal_seconds()
        if self._start is not None and end is not None:
            self.seconds = round(end - self._start, 3)
