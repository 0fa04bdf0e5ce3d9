"""What the policy pack adds to `make plan`: the policies over each stack's offline plan.

    .venv/bin/python -m benchmarks.policy_speed [--repeat N]

Prints the median seconds per stack for evaluating the program and for checking its plan, and
the share of the whole that the checking takes.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from tools.offline_plan import check_policies, compose_config, evaluate_project, load_project

ROOT = Path(__file__).resolve().parent.parent


def seconds(step: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median is shown)")
    repeat = parser.parse_args().repeat
    project = load_project(ROOT)
    for stack in ("dev", "prod"):
        plan = evaluate_project(ROOT, stack)
        config = compose_config(project, ROOT, stack)
        evaluate = seconds(lambda stack=stack: evaluate_project(ROOT, stack), repeat)
        check = seconds(lambda plan=plan, config=config: check_policies(plan, config), repeat)
        share = 100 * check / (evaluate + check)
        print(
            f"{stack:<5} {len(plan.resources):4d} resources  evaluate {evaluate:6.3f} s  "
            f"policies {check:6.3f} s  ({share:4.1f}% of make plan's work)"
        )


if __name__ == "__main__":
    main()
