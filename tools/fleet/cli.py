"""`python -m tools.fleet preview|up|refresh|destroy --stack-env ENV (--tenants a,b | --changed BASE..HEAD |
--all | --removed a,b) [--parallel N] [--wave W]`.

Exit status 0 when every tenant succeeded, 1 when any failed (or was not run after a failed wave),
2 when the input is wrong (nothing is run then).

`python -m tools.fleet matrix --stack-env ENV (--tenants a,b | --changed BASE..HEAD | --all)
[--max-waves N] [--pull-request-body FILE] [--github-outputs]` runs nothing: it prints the selected
tenants as one GitHub Actions matrix per wave, in deployment order (matrix.py), for the deploy workflow, and which
removed tenants the merged pull request's body asks to destroy (removal.py).
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO, get_args

from stack_config.model import EnvironmentKind
from systems.tenants.instances import InstanceError

from . import selection
from .changes import ChangesError
from .driver import Driver, DriverError, Operation
from .matrix import MatrixError, github_outputs, wave_matrices
from .progress import Progress, State
from .report import print_removed, print_summary
from .run import Fleet
from .smoke import SmokeSettings
from .waves import WaveError, parse_wave

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
MAX_PARALLEL = 64
MATRIX = "matrix"


def main(argv: Sequence[str] | None = None, stream: TextIO | None = None) -> int:
    out = stream or sys.stdout
    args = _parser().parse_args(argv)
    if args.command == MATRIX:
        return _matrix(args, out)
    operation = Operation(args.command)
    try:
        wave = parse_wave(args.wave) if args.wave is not None else None
        chosen = _select(args, operation)
    except (WaveError, selection.SelectionError, ChangesError, InstanceError) as error:
        print(f"fleet: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    tenants = [t for t in chosen.tenants if args.wave is None or t.wave == wave]
    print_removed(chosen.removed, args.stack_env, out)
    if not tenants:
        out.write(f"No {args.stack_env} tenant to {operation.value}.\n")
        return 0
    try:
        driver = Driver(args.project)
    except DriverError as error:
        print(f"fleet: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    progress = Progress(tenants, out, live=out.isatty())
    smoke = SmokeSettings(attempts=args.smoke_attempts, retry_delay=args.smoke_retry_delay)
    outcomes = Fleet(driver, progress, args.parallel, smoke).run(operation, tenants)
    print_summary(outcomes, out)
    return EXIT_FAILED if any(outcome.state is not State.DONE for outcome in outcomes) else 0


def _matrix(args: argparse.Namespace, out: TextIO) -> int:
    try:
        if args.removed is not None:
            raise selection.SelectionError("matrix: --removed names stacks to destroy, which no matrix deploys")
        body = args.pull_request_body.read_text(encoding="utf-8") if args.pull_request_body else ""
        matrices = wave_matrices(_select(args, Operation.UP), args.max_waves, body)
    except OSError as error:
        print(
            f"fleet: --pull-request-body: {args.pull_request_body}: cannot be read ({error.strerror})", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    except (selection.SelectionError, ChangesError, InstanceError, MatrixError) as error:
        print(f"fleet: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.github_outputs:
        out.writelines(f"{line}\n" for line in github_outputs(matrices, args.max_waves))
    else:
        out.write(json.dumps(matrices) + "\n")
    return 0


def _select(args: argparse.Namespace, operation: Operation) -> selection.Selection:
    if operation is Operation.DESTROY and args.tenants is None and args.removed is None:
        raise selection.SelectionError(
            "destroy: name the stacks with --tenants (or --removed for a deleted instance file); "
            "--all and --changed never destroy"
        )
    if args.removed is not None:
        if operation is not Operation.DESTROY:
            raise selection.SelectionError("--removed: only destroy takes the stack of a removed instance file")
        return selection.removed_stacks(args.instances, _names(args.removed))
    if args.tenants is not None:
        return selection.named(args.instances, args.stack_env, _names(args.tenants))
    if args.changed is not None:
        return selection.changed(args.instances, args.stack_env, args.changed)
    return selection.every(args.instances, args.stack_env)


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise selection.SelectionError("expected one or more instance ids separated by commas")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fleet",
        description="Preview, deploy, refresh or destroy the tenant stacks (one per instance file), N at a time.",
    )
    parser.add_argument("command", choices=[*(operation.value for operation in Operation), MATRIX])
    parser.add_argument(
        "--stack-env", required=True, choices=get_args(EnvironmentKind), help="the tenants' environment"
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--tenants", metavar="A,B", help="these instance ids")
    which.add_argument("--changed", metavar="BASE..HEAD", help="the tenants this git range affects")
    which.add_argument("--all", action="store_true", help="every tenant of the environment")
    which.add_argument("--removed", metavar="A,B", help="destroy only: stacks whose instance file was deleted")
    parser.add_argument("--parallel", type=_parallel, default=4, help=f"stacks at a time, 1 to {MAX_PARALLEL} (4)")
    parser.add_argument("--wave", metavar="W", help="only this wave: canary, a number, or last")
    parser.add_argument("--instances", type=Path, default=Path("instances"), help="the instance files (instances)")
    parser.add_argument("--project", type=Path, default=Path("tenants"), help="the tenant project (tenants)")
    parser.add_argument("--smoke-attempts", type=_attempts, default=3, help="up: tries per service, 1 to 10 (3)")
    parser.add_argument("--smoke-retry-delay", type=_delay, default=5.0, help="up: seconds between tries (5)")
    parser.add_argument(
        "--max-waves", type=_waves, default=5, help="matrix: the waves the workflow can run, 1 to 20 (5)"
    )
    parser.add_argument(
        "--pull-request-body",
        type=Path,
        metavar="FILE",
        help="matrix: the merged pull request's body; a removed tenant is destroyed only if it has a line "
        "`Destroy tenant stack: <id>`",
    )
    parser.add_argument(
        "--github-outputs",
        action="store_true",
        help="matrix: print wave-1 ... wave-N, removed, destroy and unmatched as lines for $GITHUB_OUTPUT "
        "instead of one JSON document",
    )
    return parser


def _parallel(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_PARALLEL:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_PARALLEL}, got {text!r}")
    return int(text)


def _waves(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 20, got {text!r}")
    return int(text)


def _attempts(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 10, got {text!r}")
    return int(text)


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 300:
        raise argparse.ArgumentTypeError(f"must be from 0 to 300 seconds, got {text}")
    return value
