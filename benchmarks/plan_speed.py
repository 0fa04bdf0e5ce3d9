"""How long the offline plan and Lambda packaging take, cold and warm.

    .venv/bin/python -m benchmarks.plan_speed [--repeat N]

Prints seconds per step and the warm/cold ratios: a cached dependency install is what keeps
`pulumi preview` of an unchanged function fast.
"""

import argparse
import tempfile
from pathlib import Path

from benchmarks.timing import ROOT, seconds
from components.aws.packaging import build_python_package
from tools.offline_plan import evaluate_project

HANDLERS = ROOT / "systems" / "orchestrator" / "handlers"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per warm measurement (median is shown)")
    repeat = parser.parse_args().repeat

    with tempfile.TemporaryDirectory() as build_root:

        def package() -> object:
            return build_python_package(HANDLERS, HANDLERS / "requirements.txt", build_root=Path(build_root))

        cold_package = seconds(package, 1)
        warm_package = seconds(package, repeat)
    cold_plan = seconds(lambda: evaluate_project(ROOT, "dev"), 1)
    warm_plan = seconds(lambda: evaluate_project(ROOT, "dev"), repeat)

    rows = [
        ("package handlers, cold (pip install for Lambda)", cold_package, None),
        ("package handlers, warm (dependency cache)", warm_package, cold_package / warm_package),
        ("offline plan of dev, first in process", cold_plan, None),
        ("offline plan of dev, again", warm_plan, cold_plan / warm_plan),
    ]
    for label, value, ratio in rows:
        print(f"{label:<50} {value:7.3f} s" + (f"  cold/warm {ratio:5.1f}x" if ratio else ""))


if __name__ == "__main__":
    main()
