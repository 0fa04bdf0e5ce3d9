"""`python -m tools.independent_review --repository OWNER/NAME --pull N --head SHA`."""

import argparse
from collections.abc import Sequence

from . import github
from .review import WRITE_PERMISSIONS, approvers, requesters

EXIT_NOT_APPROVED = 1
EXIT_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    pull = f"repos/{args.repository}/pulls/{args.pull}"
    try:
        asked = requesters(commit["commit"]["message"] for commit in github.paginated(f"{pull}/commits"))
        if not asked:
            print("No commit names who requested this pull request: the ruleset's review rules apply.")
            return 0
        asked_ids = {user.id for user in asked}
        others = sorted(
            (user for user in approvers(github.paginated(f"{pull}/reviews"), args.head) if user.id not in asked_ids),
            key=lambda user: user.login,
        )
        writers = [user for user in others if github.permission(args.repository, user.login) in WRITE_PERMISSIONS]
    except github.GitHubError as error:
        print(f"::error::independent review: {error}")
        return EXIT_ERROR
    names = ", ".join(f"@{user.login}" for user in sorted(asked, key=lambda user: user.login))
    if not writers:
        print(f"::error::Requested by {names}: an approval of the head commit by another writer is needed.")
        return EXIT_NOT_APPROVED
    print(f"Requested by {names}; approved by {', '.join(f'@{user.login}' for user in writers)}.")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.independent_review",
        description="Pass once a writer other than whoever requested the pull request approved its head.",
    )
    parser.add_argument("--repository", required=True, help="OWNER/NAME")
    parser.add_argument("--pull", required=True, type=int, help="the pull request's number")
    parser.add_argument("--head", required=True, help="the pull request's head commit")
    return parser
