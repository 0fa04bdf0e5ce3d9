"""Who asked for a pull request and who approved it, from its commits and reviews."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

REQUESTED_BY = re.compile(r"^Requested-by: @(?P<login>[A-Za-z0-9-]+) \((?P<id>\d+)\)$", re.MULTILINE)
WRITE_PERMISSIONS = frozenset({"admin", "write"})
"""The `permission` GitHub gives a collaborator who can push (maintain reads as write)."""
# A comment or a pending review leaves a reviewer's standing as it was.
_DECISIONS = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


@dataclass(frozen=True)
class User:
    login: str
    id: int


def requesters(commit_messages: Iterable[str]) -> set[User]:
    return {
        User(match["login"], int(match["id"]))
        for message in commit_messages
        for match in REQUESTED_BY.finditer(message)
    }


def approvers(reviews: Iterable[Mapping[str, object]], head_sha: str) -> set[User]:
    """Reviewers whose last decision is an approval of the head commit (reviews in GitHub's order)."""
    last: dict[User, Mapping[str, object]] = {}
    for review in reviews:
        user = review.get("user")
        if review.get("state") in _DECISIONS and isinstance(user, Mapping):
            last[User(str(user["login"]), int(str(user["id"])))] = review
    return {user for user, review in last.items() if review["state"] == "APPROVED" and review["commit_id"] == head_sha}
