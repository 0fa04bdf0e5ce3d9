"""The messages the endpoints queue for the worker, and sending them.

Each message is JSON with a ``type``:
- ``plan``: list the repository's ``ready`` issues into the proposed run, edit the reply into the plan;
- ``approve``: dispatch the workflow once per task and comment on each issue, then edit the reply;
- ``ship``: check each task's pull request is merged, mark the run shipped, close its issues, tell Discord;
- ``joined``: tell the repository's channel an issue joined a proposed run;
- ``check``: a task finished; finish the run when every task has, and tell the channel.
``reply`` is the interaction's token, valid 15 minutes, with which the worker edits the deferred
answer; the queue is encrypted and nothing logs a message's body.
"""

import functools
import json
import os
from dataclasses import asdict, dataclass
from typing import Any, Literal

MessageType = Literal["plan", "approve", "ship", "joined", "check"]
MESSAGE_TYPES: tuple[MessageType, ...] = ("plan", "approve", "ship", "joined", "check")


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
        if not isinstance(fields.get("run_id"), str):
            raise InvalidMessage("message has no run_id")
        unknown = set(fields) - {"type", "run_id", "reply", "by", "issue"}
        if unknown:
            raise InvalidMessage(f"message has unknown fields: {sorted(unknown)}")
        return cls(**fields)


def send(message: Message) -> None:
    _sqs().send_message(QueueUrl=os.environ["WORK_QUEUE_URL"], MessageBody=message.to_json())


@functools.cache
def _sqs() -> Any:
    # Imported on first use, for the Discord handler's start-up time (see run_store._dynamodb).
    import boto3

    return boto3.client("sqs")
