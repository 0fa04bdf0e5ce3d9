"""How long the Discord handler takes to import: its share of a cold start's 3-second budget.

    .venv/bin/python -m benchmarks.handler_import [--repeat N] [--budget-ms MS]

Each measurement is a fresh interpreter importing `handlers.discord_interactions` the way the
Lambda runtime does (the handler package on the path). Prints the median and the slowest
imports, and exits 1 when the median is over the budget (150 ms by default): the AWS SDK is
imported on first use, not here, and must stay that way.
"""

import argparse
import statistics
import subprocess
import sys

from benchmarks.timing import ROOT

PACKAGE_ROOT = ROOT / "systems" / "orchestrator"
MODULE = "handlers.discord_interactions"
_TIMED_IMPORT = f"import time; t = time.perf_counter(); import {MODULE}; print(time.perf_counter() - t)"


def import_seconds() -> float:
    # No shell, and every argument is ours: this interpreter importing one fixed module.
    command = [sys.executable, "-c", _TIMED_IMPORT]
    result = subprocess.run(command, cwd=PACKAGE_ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    return float(result.stdout)


def slowest_imports(count: int) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the slowest imports, from `python -X importtime`."""
    command = [sys.executable, "-X", "importtime", "-c", f"import {MODULE}"]
    result = subprocess.run(command, cwd=PACKAGE_ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    rows = []
    for line in result.stderr.splitlines()[1:]:
        _, cumulative, module = (part.strip() for part in line.removeprefix("import time:").split("|"))
        rows.append((int(cumulative), module))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="fresh interpreters measured (the median is shown)")
    parser.add_argument("--budget-ms", type=float, default=150.0, help="the most the median may take")
    args = parser.parse_args()

    median_ms = statistics.median(import_seconds() for _ in range(args.repeat)) * 1000
    print(f"import {MODULE}: median {median_ms:.1f} ms over {args.repeat} fresh interpreters")
    print(f"budget {args.budget_ms:g} ms")
    for microseconds, module in slowest_imports(5):
        print(f"  {microseconds / 1000:7.1f} ms  {module}")
    if median_ms > args.budget_ms:
        print(f"over budget by {median_ms - args.budget_ms:.1f} ms", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
