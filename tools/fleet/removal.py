"""Which removed tenants a merge destroys: only those its pull request names, one line each.

A deleted instance file alone never destroys a stack; the pull request's body must also say
`Destroy tenant stack: <id>` on a line of its own, so a removal is a decision a reviewer read."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

_REQUEST = re.compile(r"^[ \t]*Destroy tenant stack:[ \t]*(?P<id>\S+)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Removal:
    destroy: tuple[str, ...]
    """Removed and requested: their stacks are destroyed."""
    kept: tuple[str, ...]
    """Removed but not requested: listed, left alone."""
    unmatched: tuple[str, ...]
    """Requested but not removed by this merge: a tenant whose file is still there (or a typo),
    never destroyed; the run names them so the request is not silently lost."""


def requested_destroys(body: str) -> list[str]:
    """The ids of the body's `Destroy tenant stack: <id>` lines, in order, each once."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n")
    return list(dict.fromkeys(match["id"] for match in _REQUEST.finditer(lines)))


def removal(removed: Iterable[str], body: str) -> Removal:
    """Split the stacks whose instance file the merge deleted by what its pull request asks."""
    removed_ids = sorted(set(removed))
    requested = requested_destroys(body)
    return Removal(
        destroy=tuple(i for i in removed_ids if i in requested),
        kept=tuple(i for i in removed_ids if i not in requested),
        unmatched=tuple(i for i in requested if i not in removed_ids),
    )
