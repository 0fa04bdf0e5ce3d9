"""GitHub's naming rules for Actions secrets and variables, checked before anything is sent."""

import re

# Secrets and variables: letters, digits and underscores, not starting with a digit; case-insensitive.
_ACTIONS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RESERVED_PREFIX = "GITHUB_"


def check_actions_names(kind: str, names: list[str]) -> None:
    """Raise if a secret or variable name is one GitHub rejects, or two differ only in case."""
    bad = [name for name in names if not _ACTIONS_NAME.fullmatch(name) or name.upper().startswith(_RESERVED_PREFIX)]
    if bad:
        rule = "letters, digits and _, not starting with a digit or GITHUB_"
        raise ValueError(f"{kind} names GitHub rejects: {', '.join(bad)} ({rule})")
    seen: dict[str, str] = {}
    for name in names:
        if name.upper() in seen:
            raise ValueError(f"{kind} names {seen[name.upper()]} and {name} are the same name to GitHub")
        seen[name.upper()] = name
