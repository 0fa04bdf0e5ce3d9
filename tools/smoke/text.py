"""What the smoke check prints about what a service said: one safe line, with no secret in it."""

import json
from collections.abc import Iterable

MAX_SHOWN = 120
"""What a service says is cut to this length before it is printed."""
REDACTED = "[secret]"


def shown(value: object) -> str:
    """What a service sent, safe to print on one line of a CI log: control characters escaped
    (no line breaks, so no forged log line or workflow command) and cut short."""
    text = value if isinstance(value, str) else json.dumps(value)
    escaped = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return escaped if len(escaped) <= MAX_SHOWN else escaped[: MAX_SHOWN - 1] + "…"


def redacted(line: str, secrets: Iterable[str]) -> str:
    """`line` with every secret replaced: a service that echoes a credential back gets it masked
    here too, not only by the CI runner (which masks none on a terminal)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        line = line.replace(secret, REDACTED)
    return line
