"""`python -m tools.rollback_check COMMIT --against REF`: exit status 0 when COMMIT can be rolled
back to, 1 with one `::error::` line saying why not, 2 when git cannot read either commit."""

import argparse
from collections.abc import Sequence
from pathlib import Path

from .checks import migration_problems, pipeline_problems
from .git_tree import GitError, GitTree

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.rollback_check", description="Refuse a rollback target that cannot be deployed any more."
    )
    parser.add_argument("commit", help="the commit to roll back to")
    parser.add_argument("--against", required=True, help="the default branch's head, e.g. origin/main")
    parser.add_argument("--repository", type=Path, default=Path("."), help="the git repository (.)")
    args = parser.parse_args(argv)
    try:
        target = GitTree(args.repository, args.commit)
        reference = GitTree(args.repository, args.against)
        problems = pipeline_problems(target) or migration_problems(target, reference)
    except (GitError, SyntaxError) as error:
        print(f"::error::rollback_check: {error}")
        return EXIT_BAD_INPUT
    if problems:
        print(f"::error::Cannot roll back to {args.commit}: {problems[0]}.")
        return EXIT_REFUSED
    print(f"{args.commit} can be rolled back to: today's pipeline runs it, and it keeps every Durable Object class.")
    return 0
