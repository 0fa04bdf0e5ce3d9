"""`python -m tools.stacks matrix|names|show STACK`: the deployed stacks, for the workflows.

matrix   one line of JSON: each stack's `stack`, `plan-environment` and `deploy-environment`, in order
names    the stacks' names, space-separated, in order
show     one stack's entry as one line of JSON; exit status 2 if no such stack is deployed
environment STACK   the stack's `orchestra:environment`, whose instance files are its tenant stacks
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .environment import stack_environment
from .stacks import StacksError, find_stack, load_stacks

EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stacks", description="The stacks the workflows deploy.")
    parser.add_argument("--project", type=Path, default=Path("."), help="the project directory (.)")
    parser.add_argument("--delivery-file", type=Path, default=Path("delivery.yaml"), help="(delivery.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("matrix", help="a GitHub Actions matrix `include` list")
    commands.add_parser("names", help="the stacks' names")
    commands.add_parser("show", help="one stack's entry").add_argument("stack")
    commands.add_parser("environment", help="one stack's orchestra:environment").add_argument("stack")
    args = parser.parse_args(argv)
    try:
        stacks = load_stacks(args.project, args.delivery_file)
        if args.command == "show":
            print(json.dumps(find_stack(stacks, args.stack).matrix_entry()))
        elif args.command == "environment":
            print(stack_environment(args.project, find_stack(stacks, args.stack).name))
        elif args.command == "names":
            print(" ".join(stack.name for stack in stacks))
        else:
            print(json.dumps([stack.matrix_entry() for stack in stacks]))
    except StacksError as error:
        print(f"stacks: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0
