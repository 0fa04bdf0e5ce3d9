"""The automatic rollbacks a `pulumi up` reported, each with the figure that failed its gate.

A rollout provider that rolls a version back fails its update with a `ProviderError` whose
message names the version, where traffic went back to, and why (the alarm that fired, the errors
over the requests served); the CLI prints it as the last line of the provider's traceback. This
reads those lines from the command's output, once each, in the order they came.
"""

import re

MAX_LINE = 500
"""A message longer than this is cut: it goes into a job summary and a chat message."""

_ROLLBACK = re.compile(r"ProviderError: (?P<message>\S.* rolled back to .+?)\s*$")


def automatic_rollbacks(log: str) -> list[str]:
    found: list[str] = []
    for line in log.splitlines():
        match = _ROLLBACK.search(line)
        if match:
            message = match["message"][:MAX_LINE]
            if message not in found:
                found.append(message)
    return found
