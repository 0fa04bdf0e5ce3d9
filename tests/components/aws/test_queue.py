import json

import pytest

from components.aws.queue import Queue, QueueArgs
from tools.offline_plan import Plan, evaluate

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orchestra-work-prod"
DEAD_LETTER_ARN = "arn:aws:sqs:us-east-1:123456789012:orchestra-work-dead-letters-prod"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return evaluate(
        lambda: Queue("work", QueueArgs(visibility_timeout_seconds=360, retention_seconds=86400, max_receive_count=3)),
        stack="prod",
    )


def test_children(plan: Plan) -> None:
    component = plan.one("orchestra:aws:Queue", "work")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("aws:sqs/queue:Queue", "work"),
        ("aws:sqs/queue:Queue", "work-dead-letters"),
        ("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "work-dead-letters-source"),
    ]


def test_queue_is_encrypted_and_redrives_to_its_dead_letter_queue(plan: Plan) -> None:
    queue = plan.one("aws:sqs/queue:Queue", "work").inputs
    assert queue["name"] == "orchestra-work-prod"
    assert queue["sqsManagedSseEnabled"] is True
    assert (queue["visibilityTimeoutSeconds"], queue["messageRetentionSeconds"]) == (360, 86400)
    assert json.loads(queue["redrivePolicy"]) == {"deadLetterTargetArn": DEAD_LETTER_ARN, "maxReceiveCount": 3}


def test_dead_letters_are_kept_longest_and_accepted_from_this_queue_only(plan: Plan) -> None:
    dead_letters = plan.one("aws:sqs/queue:Queue", "work-dead-letters").inputs
    assert dead_letters["sqsManagedSseEnabled"] is True
    assert dead_letters["messageRetentionSeconds"] == 14 * 24 * 3600
    allow = plan.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "work-dead-letters-source").inputs
    assert allow["queueUrl"] == "https://sqs.us-east-1.amazonaws.com/123456789012/orchestra-work-dead-letters-prod"
    assert json.loads(allow["redriveAllowPolicy"]) == {"redrivePermission": "byQueue", "sourceQueueArns": [QUEUE_ARN]}


def test_nothing_is_protected(plan: Plan) -> None:
    assert [r.name for r in plan.resources if r.protect or r.retain_on_delete] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (QueueArgs(visibility_timeout_seconds=43201), "visibility timeout must be 0 s - 12 h"),
        (QueueArgs(retention_seconds=59), "retention must be 60 s - 14 days"),
        (QueueArgs(retention_seconds=14 * 24 * 3600 + 1), "retention must be 60 s - 14 days"),
        (QueueArgs(max_receive_count=0), "max receive count must be 1-1000"),
    ],
)
def test_values_sqs_would_refuse_stop_the_program(args: QueueArgs, message: str) -> None:
    with pytest.raises(ValueError, match=f"queue work: {message}"):
        evaluate(lambda: Queue("work", args))
