"""What the benchmarks share: the repository root and the median time of a step."""

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
