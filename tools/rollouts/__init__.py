"""What the rollouts of a `pulumi up` did, read from the command's output: each version a gate
promoted, with what it served while watched, and each one it rolled back, with the figure that
failed it.

A rollout that promotes a version says so on the provider's info channel: a worker's `worker
<script>: version <id> promoted after <share>% for <seconds> s: <figures>`, a Lambda's `function
<name>: version <n> promoted after <share>% for <seconds> s: <figures>; ...`, one such part per
step. A rollout that rolls a version back fails its update with a `ProviderError` whose message
names the version, where traffic went back to and why, with what the version served; the CLI
prints it as the last line of the provider's traceback. Each is listed once, in the order it came.
"""

import re

MAX_LINE = 500
"""A message longer than this is cut: it goes into a job summary and a chat message."""

_ROLLBACK = re.compile(r"ProviderError: (?P<message>\S.* rolled back to .+?)\s*$")
_PROMOTION = re.compile(r"(?P<message>(?:worker|function) \S+: version \S+ promoted after .+?)\s*$")


def automatic_rollbacks(log: str) -> list[str]:
    return _each(_ROLLBACK, log)


def promotions(log: str) -> list[str]:
    return _each(_PROMOTION, log)


def _each(pattern: re.Pattern[str], log: str) -> list[str]:
    found: list[str] = []
    for line in log.splitlines():
        match = pattern.search(line)
        if match:
            message = match["message"][:MAX_LINE]
            if message not in found:
                found.append(message)
    return found
