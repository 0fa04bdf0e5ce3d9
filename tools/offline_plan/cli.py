"""`python -m tools.offline_plan`: print what a stack would declare, diff two saved plans, or list
(and with `--write`, record) a stack's URNs."""

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from .diff import diff_plans
from .diff_render import render_markdown, render_text
from .mock_outputs import MissingStackReferenceError, ReferencedStack
from .plan import Plan
from .policies import check_policies
from .policy_render import render_violations
from .project_config import ConfigCompositionError, compose_config, load_project
from .render import render_plan
from .runner import evaluate_project, referenced_stack
from .urns import URNS_DIRECTORY, urn_lines, urns_file

EXIT_POLICY_VIOLATION = 3
"""A mandatory policy of the pack (`policy/`) is violated; the plan is still printed and saved."""
EXIT_BAD_CONFIGURATION = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "diff":
        return _diff(args.old, args.new, args.format)
    try:
        references = _references(args.reference)
    except (pulumi.RunError, ConfigCompositionError) as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"--reference: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    run = _Run(args.project_dir, args.stack, references, tuple(args.secret_env))
    if args.command == "urns":
        return _urns(run, args.write)
    return _plan(run, args.json)


@dataclass(frozen=True)
class _Run:
    project_dir: Path
    stack: str
    references: Mapping[str, ReferencedStack]
    secret_environment: tuple[str, ...]

    def evaluate(self) -> Plan:
        return evaluate_project(self.project_dir, self.stack, self.references, self.secret_environment)


def _references(given: Sequence[str]) -> dict[str, ReferencedStack]:
    """Each `STACK=PLAN.json` (a saved plan) or `STACK=PROJECT_DIR` (planned here, STACK's last part)."""
    references: dict[str, ReferencedStack] = {}
    for entry in given:
        name, separator, source = entry.partition("=")
        if not separator or name.count("/") != 2 or not source:
            raise ValueError(f"expected <organization>/<project>/<stack>=<plan.json or project dir>, got {entry!r}")
        path = Path(source)
        plan = (
            evaluate_project(path, name.rsplit("/", 1)[1])
            if path.is_dir()
            else Plan.from_json(path.read_text(encoding="utf-8"))
        )
        references[name] = referenced_stack(plan)
    return references


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.offline_plan",
        description="Evaluate the Pulumi program with Pulumi's mocks and print the resources a stack declares.",
    )
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use (default: dev)")
    parser.add_argument(
        "--project-dir", type=Path, default=Path("."), help="directory holding Pulumi.yaml (default: .)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the plan as JSON to PATH")
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="STACK=PLAN",
        help=(
            "the outputs a StackReference to STACK (<organization>/<project>/<stack>) reads: that stack's plan, "
            "saved with --json, or the directory of its project to plan it first"
        ),
    )
    parser.add_argument(
        "--secret-env",
        action="append",
        default=[],
        metavar="NAME",
        help="an environment variable the command runs with holding a secret (given a placeholder)",
    )
    commands = parser.add_subparsers(dest="command", metavar="{diff,urns}")
    diff = commands.add_parser("diff", help="compare two plans saved with --json")
    diff.add_argument("old", type=Path, metavar="OLD.json")
    diff.add_argument("new", type=Path, metavar="NEW.json")
    diff.add_argument("--format", choices=("text", "markdown"), default="text")
    urns = commands.add_parser(
        "urns", help=f"print the stack's URNs, sorted; --write records them in {URNS_DIRECTORY}/"
    )
    urns.add_argument("--stack", default=argparse.SUPPRESS, help="as above")
    urns.add_argument("--write", action="store_true", help=f"write them to {URNS_DIRECTORY}/<stack>.txt instead")
    return parser


def _plan(run: _Run, json_path: Path | None) -> int:
    project_dir, stack = run.project_dir, run.stack
    try:
        plan = run.evaluate()
        config = compose_config(load_project(project_dir.resolve()), project_dir.resolve(), stack)
    except (pulumi.RunError, ConfigCompositionError, MissingStackReferenceError) as error:
        # A bad stack configuration is the user's to fix, not a bug: its one line is the whole report.
        print(error, file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    sys.stdout.write(render_plan(plan))
    for message in plan.diagnostics:
        print(message, file=sys.stderr)
    for location in plan.unmarked_secrets:
        print(f"warning: a secret setting reaches {location} without a secret marking", file=sys.stderr)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(plan.to_json(), encoding="utf-8")
    violations = check_policies(plan, config)
    # With the program's own diagnostics, on stderr: what CI shows when the command fails.
    sys.stderr.write(render_violations(plan, violations))
    return EXIT_POLICY_VIOLATION if any(violation.mandatory for violation in violations) else 0


def _urns(run: _Run, write: bool) -> int:
    project_dir, stack = run.project_dir, run.stack
    try:
        lines = urn_lines(run.evaluate())
    except (pulumi.RunError, ConfigCompositionError, MissingStackReferenceError) as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    if not write:
        sys.stdout.write(lines)
        return 0
    path = urns_file(project_dir, stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lines, encoding="utf-8")
    print(f"{path}: {len(lines.splitlines())} URNs", file=sys.stderr)
    return 0


def _diff(old_path: Path, new_path: Path, output_format: str) -> int:
    plans: list[Plan] = []
    for path in (old_path, new_path):
        try:
            plans.append(Plan.from_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"{path}: not a readable plan ({error})", file=sys.stderr)
            return EXIT_BAD_CONFIGURATION
    diff = diff_plans(*plans)
    sys.stdout.write(render_markdown(diff) if output_format == "markdown" else render_text(diff))
    return 0
