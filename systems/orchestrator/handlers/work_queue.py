"""Sending a message to the worker through the work queue (``message.py`` says what it holds)."""

import functools
import os
from typing import Any

from . import contract
from .message import Message


def send(message: Message) -> None:
    _sqs().send_message(QueueUrl=os.environ[contract.WORK_QUEUE_URL], MessageBody=message.to_json())


@functools.cache
def _sqs() -> Any:
    # Imported on first use, for the Discord handler's start-up time (see run_store._dynamodb).
    import boto3

    return boto3.client("sqs")
