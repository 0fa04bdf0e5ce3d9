"""What the policy pack adds to `make plan`: the policies over each stack's offline plan.

    .venv/bin/python -m benchmarks.policy_speed [--repeat N]

Prints the median seconds per stack for evaluating the program and for checking its plan, and
the share of the whole that the checking takes.
"""

import argparse

from benchmarks.timing import ROOT, seconds
from tools.offline_plan import check_policies, compose_config, evaluate_project, load_project


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
