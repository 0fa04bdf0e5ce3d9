"""The report: every finding of one stack as JSON. Before it is written it is searched for each
secret the check held, whole and line by line (a PEM key has many), so that nothing an API
echoed or a check phrased badly can carry one out."""

import json
from collections.abc import Iterable
from typing import Any

from .finding import Finding

MIN_SECRET_PART = 8
"""Lines of a secret shorter than this (a PEM's blank line) are too common to search for."""


class LeakError(Exception):
    """The report would contain a secret; it is not written."""


def render(stack: str, checked_at: str, findings: list[Finding], secrets: Iterable[str]) -> str:
    text = json.dumps(
        {"stack": stack, "checked_at": checked_at, "credentials": [f.as_json() for f in findings]}, indent=2
    )
    for secret in secrets:
        parts = {secret.strip(), *(line.strip() for line in secret.splitlines())}
        if any(len(part) >= MIN_SECRET_PART and part in text for part in parts):
            raise LeakError("the report would contain a credential; it was not written")
    return text + "\n"


def load(text: str) -> tuple[str, list[Finding]]:
    """The stack and findings of a report `render` wrote."""
    document: Any = json.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("credentials"), list):
        raise ValueError("not a credential report: no `credentials` list")
    stack = document.get("stack")
    if not isinstance(stack, str) or not stack:
        raise ValueError("not a credential report: no `stack`")
    return stack, [Finding(**entry) for entry in document["credentials"]]
