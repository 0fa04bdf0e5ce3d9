"""The messages the endpoints queue for the worker, checked again when the worker reads them.

Each message is JSON with a ``type``:
- ``plan``: list the repository's ``ready`` issues into the proposed run, edit the reply into the plan;
- ``approve``: dispatch the workflow once per task and comment on each issue, then edit the reply;
- ``ship``: check each task's pull request is merged, mark the run shipped, close its issues, tell Discord;
- ``joined``: tell the repository's channel an issue joined a proposed run;
- ``check``: a task finished; finish the run when every task has, and tell the channel.
``reply`` is the interaction's token, valid 15 minutes, with which the worker edits the deferred
answer; the queue is encrypted and nothing logs a message's body. ``interaction`` is the id of the
Discord interaction a ``plan`` answers, which every plan names: a retried or replayed
interaction is planned once.
"""

import json
import re
from dataclasses import asdict, dataclass
from typing import Literal

from .payload import INTERACTION_TOKEN_PATTERN, RUN_ID_PATTERN, SNOWFLAKE_PATTERN

MessageType = Literal["plan", "approve", "ship", "joined", "check"]
MESSAGE_TYPES: tuple[MessageType, ...] = ("plan", "approve", "ship", "joined", "check")
# Who asked: a Discord username (at most 32 characters) or a GitHub login (at most 39, or 44 for a bot).
MAX_BY = 64


class InvalidMessage(ValueError):
    """A message the worker cannot act on; it is left to land in the dead-letter queue."""


@dataclass(frozen=True)
class Message:
    type: MessageType
    run_id: str
    reply: str | None = None
    """The interaction token of a deferred answer to edit."""
    by: str | None = None
    """Who asked, for the run's history."""
    issue: int | None = None
    interaction: str | None = None
    """The Discord interaction's id."""

    def to_json(self) -> str:
        return json.dumps({key: value for key, value in asdict(self).items() if value is not None}, sort_keys=True)

    @classmethod
    def from_json(cls, body: str) -> "Message":
        try:
            fields = json.loads(body)
        except ValueError as error:
            raise InvalidMessage("message body is not JSON") from error
        if not isinstance(fields, dict) or fields.get("type") not in MESSAGE_TYPES:
            raise InvalidMessage("message has no known type")
        unknown = set(fields) - {"type", "run_id", "reply", "by", "issue", "interaction"}
        if unknown:
            raise InvalidMessage(f"message has unknown fields: {sorted(unknown)}")
        # The endpoints only queue what they checked; a message that differs came from elsewhere,
        # and its fields would end up in URLs and in the run's history.
        if not _matches(fields.get("run_id"), RUN_ID_PATTERN):
            raise InvalidMessage("message has no run id")
        if "reply" in fields and not _matches(fields["reply"], INTERACTION_TOKEN_PATTERN):
            raise InvalidMessage("message reply is not an interaction token")
        if "by" in fields and not (isinstance(fields["by"], str) and 0 < len(fields["by"]) <= MAX_BY):
            raise InvalidMessage("message by is not a name")
        if "interaction" in fields and not _matches(fields["interaction"], SNOWFLAKE_PATTERN):
            raise InvalidMessage("message interaction is not a snowflake")
        if fields["type"] == "plan" and "interaction" not in fields:
            # The plan is made once per interaction: without one, each delivery would make it again.
            raise InvalidMessage("plan message names no interaction")
        issue = fields.get("issue")
        if "issue" in fields and not (isinstance(issue, int) and not isinstance(issue, bool) and issue >= 1):
            raise InvalidMessage("message issue is not an issue number")
        return cls(**fields)


def _matches(value: object, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None
