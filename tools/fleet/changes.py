"""Which tenants a git range affects: the changed paths, judged by one table of path patterns."""

import re
import subprocess
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any

import yaml


class Impact(Enum):
    TENANT = "the tenant of this instance file"
    ALL = "every tenant of the environment"


IMPACT_OF_PATHS: tuple[tuple[str, Impact], ...] = (
    ("instances/*.yaml", Impact.TENANT),
    ("instances/*.yml", Impact.TENANT),
    ("instances/*.json", Impact.TENANT),
    # What every tenant stack runs: the tenant program, its workers' code and what they share.
    ("tenants/**", Impact.ALL),
    ("systems/tenants/**", Impact.ALL),
    ("systems/worker_common/**", Impact.ALL),
    ("components/**", Impact.ALL),
    ("stack_config/**", Impact.ALL),
    ("requirements.txt", Impact.ALL),
)
"""The first pattern a path matches decides; a path matching none (the orchestrator, the AI
worker, docs, tests, workflows) affects no tenant. `*` stays within one directory, `/**` takes
everything below."""

_RANGE = re.compile(r"(?P<base>[^\s.-][^\s]*?)\.\.\.?(?P<head>[^\s.-][^\s]*)")


class ChangesError(Exception):
    """The range cannot be read; one line."""


@dataclass(frozen=True)
class RangeImpact:
    tenants: frozenset[str]
    """Instance ids whose file the range adds or changes."""
    removed: dict[str, str | None]
    """Instance ids whose file the range deletes, with the environment that file named (None if unreadable)."""
    all_tenants: bool
    """A path every tenant depends on changed."""


def impact_of(path: str) -> Impact | None:
    for pattern, impact in IMPACT_OF_PATHS:
        if _matches(pattern, path):
            return impact
    return None


def range_impact(revisions: str) -> RangeImpact:
    """What `git diff BASE..HEAD` (or BASE...HEAD, from their merge base) touches, run in the current directory."""
    match = _RANGE.fullmatch(revisions)
    if match is None:
        raise ChangesError(f"--changed: expected BASE..HEAD, got {revisions!r}")
    # Without rename detection a renamed instance file is what it means: one tenant removed, another added.
    listing = _git("diff", "--name-status", "--no-renames", "-z", revisions, "--")
    fields = listing.split("\0")
    tenants: set[str] = set()
    removed: dict[str, str | None] = {}
    all_tenants = False
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        impact = impact_of(path)
        if impact is Impact.ALL:
            all_tenants = True
        elif impact is Impact.TENANT:
            instance_id = PurePosixPath(path).stem
            if status == "D":
                removed[instance_id] = _environment_at(match["base"], path)
            else:
                tenants.add(instance_id)
    return RangeImpact(frozenset(tenants), removed, all_tenants)


def _environment_at(revision: str, path: str) -> str | None:
    try:
        document: Any = yaml.safe_load(_git("show", f"{revision}:{path}"))
    except (ChangesError, yaml.YAMLError):
        return None
    environment = document.get("environment") if isinstance(document, dict) else None
    return environment if isinstance(environment, str) else None


def _git(*args: str) -> str:
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)  # noqa: S603, S607
    except FileNotFoundError as error:
        raise ChangesError("git is not installed or not on PATH") from error
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[0]
        raise ChangesError(f"git {args[0]} failed: {reason}")
    return result.stdout


def _matches(pattern: str, path: str) -> bool:
    pattern_parts = pattern.split("/")
    path_parts = path.split("/")
    if pattern_parts[-1] == "**":
        prefix = pattern_parts[:-1]
        return len(path_parts) > len(prefix) and all(map(fnmatchcase, path_parts, prefix))
    return len(path_parts) == len(pattern_parts) and all(map(fnmatchcase, path_parts, pattern_parts))
