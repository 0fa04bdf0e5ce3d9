"""An SQS queue with its dead-letter queue: encrypted, retained, and redriven after bounded attempts.

A message that fails `max_receive_count` times moves to `<name>-dead-letters`, which keeps it
for 14 days (SQS's maximum) so it can be inspected and redriven; only this queue may use it as
a dead-letter queue. Neither queue is protected as stateful: what they carry is in flight, and
the records it acts on live in the table that produced it.
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..naming import SQS_QUEUE, physical_name
from .link import Link, PolicyStatement
from .metric import CloudWatchMetric

DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600

# What Lambda's event source mapping calls on a queue it polls.
CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


@dataclass(frozen=True)
class QueueArgs:
    visibility_timeout_seconds: int = 180
    """How long a received message stays hidden; for a Lambda consumer at least its timeout
    (AWS advises six times it), else a message is handed out again while still being handled."""
    retention_seconds: int = 4 * 24 * 3600
    """How long an unhandled message is kept (60 s - 14 days); SQS's default of 4 days."""
    max_receive_count: int = 5
    """Receives after which a message moves to the dead-letter queue (1-1000)."""


class Queue(pulumi.ComponentResource):
    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue
    arn: pulumi.Output[str]
    url: pulumi.Output[str]
    visibility_timeout_seconds: int

    def __init__(self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:Queue", name, None, opts)
        if not 0 <= args.visibility_timeout_seconds <= 12 * 3600:
            raise ValueError(f"queue {name}: visibility timeout must be 0 s - 12 h")
        if not 60 <= args.retention_seconds <= DEAD_LETTER_RETENTION_SECONDS:
            raise ValueError(f"queue {name}: retention must be 60 s - 14 days")
        if not 1 <= args.max_receive_count <= 1000:
            raise ValueError(f"queue {name}: max receive count must be 1-1000")
        self._label = name
        self.visibility_timeout_seconds = args.visibility_timeout_seconds
        child = pulumi.ResourceOptions(parent=self)

        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dead-letters",
            name=physical_name(f"{name}-dead-letters", SQS_QUEUE),
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            name,
            name=physical_name(name, SQS_QUEUE),
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            message_retention_seconds=args.retention_seconds,
            # Long polling: fewer empty receives for the same latency.
            receive_wait_time_seconds=20,
            sqs_managed_sse_enabled=True,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": self.dead_letter_queue.arn, "maxReceiveCount": args.max_receive_count}
            ),
            opts=child,
        )
        # A separate resource, because the queue already depends on its dead-letter queue.
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dead-letters-source",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [self.queue.arn]}
            ),
            opts=child,
        )
        self.arn = self.queue.arn
        self.url = self.queue.url
        self.register_outputs({"arn": self.arn, "url": self.url, "dead_letter_arn": self.dead_letter_queue.arn})

    def link_send(self, env: str) -> Link:
        """Sending to this queue only; the function finds it through `env`, which holds its URL."""
        send = PolicyStatement(actions=["sqs:SendMessage"], resources=[self.arn])
        return Link(statements=[send], environment={env: self.url})

    def link_consume(self) -> Link:
        """What a function fed by this queue needs; Lambda's poller, not the code, makes these calls."""
        return Link(statements=[PolicyStatement(actions=CONSUME_ACTIONS, resources=[self.arn])])

    def metric_oldest_message_age(self) -> CloudWatchMetric:
        return self._metric(self.queue, "ApproximateAgeOfOldestMessage", "oldest message age (s)")

    def metric_depth(self) -> CloudWatchMetric:
        return self._metric(self.queue, "ApproximateNumberOfMessagesVisible", "messages waiting")

    def metric_dead_letters(self) -> CloudWatchMetric:
        return self._metric(self.dead_letter_queue, "ApproximateNumberOfMessagesVisible", "dead letters")

    def _metric(self, queue: aws.sqs.Queue, metric_name: str, what: str) -> CloudWatchMetric:
        # Gauges: the worst value in the period is the one that matters.
        return CloudWatchMetric(
            "AWS/SQS", metric_name, {"QueueName": queue.name}, f"{self._label} {what}", statistic="Maximum"
        )
