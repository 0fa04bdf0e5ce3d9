"""What the benchmarks share: the repository root, the median wall-clock and the least CPU time of a step."""

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seconds(step: Callable[[], object], repeat: int) -> float:
    """Median wall-clock seconds of `repeat` runs of `step`: one slow run does not move it."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def cpu_seconds(step: Callable[[], object], repeat: int) -> float:
    """Least CPU seconds of `repeat` runs of `step`, this process's and the children it waited for.

    On a machine shared with other work, CPU time is what the step itself costs; wall-clock time
    also counts the time it waited for a core. Sharing only ever adds to CPU time too (caches
    flushed by other work), so the least run is the closest to the step's own cost.
    """
    timings = []
    for _ in range(repeat):
        before = os.times()
        step()
        after = os.times()
        timings.append(sum(getattr(after, field) - getattr(before, field) for field in _CPU_FIELDS))
    return min(timings)


_CPU_FIELDS = ("user", "system", "children_user", "children_system")
