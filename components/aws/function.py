"""A Python Lambda function with its own role, log group and deterministic package."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws

from ..naming import IAM_ROLE, LAMBDA_FUNCTION, physical_name
from ..providers.lambda_rollout import ErrorLog, LambdaRollout, PreTrafficCheck, TrafficStep
from .link import Link, PolicyStatement, policy_document
from .metric import CloudWatchMetric, Statistic
from .monitoring import AlarmRule, declare_alarm
from .packaging import build_python_package
from .queue import Queue

_LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}],
}


@dataclass(frozen=True)
class QueueSource:
    """A queue whose messages Lambda hands to the function in batches."""

    queue: Queue
    batch_size: int = 10
    """Messages per invocation (1-10000; above 10 needs a batching window)."""
    batching_window_seconds: int = 0
    """How long Lambda may wait to fill a batch (0-300)."""


ALIAS = "live"
"""The alias every caller invokes: the function's versions are published, and callers never see `$LATEST`."""

# The gate looks at whole minutes of the new version: Lambda's metrics have one-minute resolution.
_GATE_PERIOD_SECONDS = 60
# A new version whose average invocation nears the timeout is about to fail, whatever it answers.
_GATE_DURATION_SHARE = 0.8


@dataclass(frozen=True)
class RolloutArgs:
    """How the alias moves to a new version: each step a share of traffic for a while, then all."""

    steps: Sequence[TrafficStep] = ()
    """Empty: the new version takes all traffic once its pre-traffic checks pass."""
    checks: Sequence[PreTrafficCheck] = ()
    """Direct invocations of the new version before it serves anyone."""
    errors: float = 1
    """Errors of the new version within a minute (its alarm), or ERROR records it logs within a
    step, that roll it back."""
    poll_seconds: float = 10
    """How often the gate reads the new version's alarms."""


@dataclass(frozen=True)
class FunctionArgs:
    package_dir: Path
    """A Python package; it is zipped under its own name, so `handler` starts with that name."""
    handler: str
    """`<package>.<module>.<function>`."""
    requirements: Path | None = None
    """Pinned requirements installed into the package for the Lambda platform; none by default."""
    runtime: str = "python3.12"
    architecture: Literal["arm64", "x86_64"] = "arm64"
    """arm64 by default: the same code costs less on Graviton."""
    memory_mb: int = 256
    timeout_seconds: int = 10
    log_retention_days: int = 14
    links: Sequence[Link] = ()
    """Resources the function may use; each grants its own actions and adds its environment."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain settings; anything secret arrives through a link instead."""
    build_dir: Path = Path("build/lambda")
    """Where packages and the per-platform dependency cache are written."""
    queue_source: QueueSource | None = None
    """A queue feeding the function; it reports failed messages one by one (`ReportBatchItemFailures`),
    so a batch's handled messages are not received again. None by default."""
    permissions_boundary: pulumi.Input[str] | None = None
    """The managed policy that caps the role's permissions, whatever its own policy says; None for none."""
    rollout: RolloutArgs = RolloutArgs()


class Function(pulumi.ComponentResource):
    """Lambda + role (trusting only Lambda, allowed only what its links grant and its own logs)
    + `/aws/lambda/<name>` log group with retention, declared before the function so Lambda
    never creates an unmanaged one. The function's environment carries `VERSION`, the hex
    SHA-256 of its package, which is what is deployed.

    Each change publishes a version; callers invoke the alias `live`, which a `LambdaRollout`
    moves to the new version (pre-traffic checks, then `rollout.steps`), watching alarms on the
    errors, throttles and duration of the new version alone, which roll it back."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    alias_name: str
    alias_arn: pulumi.Output[str]
    """What callers invoke; it exists once the rollout has created the alias."""
    rollout: LambdaRollout
    gate_alarms: list[aws.cloudwatch.MetricAlarm]
    version: str
    """What the function reports as its version: the hex SHA-256 of its package (`VERSION`)."""

    def __init__(self, name: str, args: FunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:Function", name, None, opts)
        _check_queue_source(name, args)
        self._label = name
        child = pulumi.ResourceOptions(parent=self)
        function_name = physical_name(name, LAMBDA_FUNCTION)
        package = build_python_package(
            args.package_dir,
            args.requirements,
            python_version=args.runtime.removeprefix("python"),
            architecture=args.architecture,
            build_root=args.build_dir,
        )

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=physical_name(name, IAM_ROLE),
            assume_role_policy=pulumi.Output.json_dumps(_LAMBDA_TRUST_POLICY),
            permissions_boundary=args.permissions_boundary,
            opts=child,
        )
        # Streams are named by Lambda at run time, so this is the one ARN pattern that must
        # end in a wildcard; it stays inside the function's own log group.
        log_statement = PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[pulumi.Output.concat(self.log_group.arn, ":log-stream:*")],
        )
        links = [*args.links, args.queue_source.queue.link_consume()] if args.queue_source else list(args.links)
        statements = [log_statement, *(s for link in links for s in link.statements)]
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=policy_document(statements),
            opts=child,
        )
        environment = {key: value for link in links for key, value in link.environment.items()}
        environment.update(args.environment)
        self.version = package.content_hash
        environment["VERSION"] = self.version
        self.function = aws.lambda_.Function(
            name,
            name=function_name,
            role=self.role.arn,
            runtime=args.runtime,
            handler=args.handler,
            architectures=[args.architecture],
            code=pulumi.FileArchive(str(package.path)),
            source_code_hash=package.source_code_hash,
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=self.log_group.name),
            publish=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, policy]),
        )
        self.name = self.function.name
        self.arn = self.function.arn
        self.alias_name = ALIAS
        self._published = self.function.version
        self.gate_alarms = [declare_alarm(f"{name}-gate-{rule.id}", rule, [], child) for rule in self._gate_rules(args)]
        self.rollout = LambdaRollout(
            f"{name}-{ALIAS}",
            region=aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region,
            function_name=self.function.name,
            alias_name=ALIAS,
            version=self._published,
            steps=args.rollout.steps,
            alarm_names=[alarm.name for alarm in self.gate_alarms],
            checks=args.rollout.checks,
            error_log=ErrorLog(self.log_group.name, args.rollout.errors),
            poll_seconds=args.rollout.poll_seconds,
            opts=child,
        )
        # Through the rollout's id, whatever uses the alias waits for it to exist.
        self.alias_arn = pulumi.Output.all(self.function.arn, self.rollout.id).apply(lambda v: f"{v[0]}:{ALIAS}")
        if args.queue_source is not None:
            source = args.queue_source
            aws.lambda_.EventSourceMapping(
                f"{name}-queue-source",
                event_source_arn=source.queue.arn,
                function_name=self.alias_arn,
                batch_size=source.batch_size,
                maximum_batching_window_in_seconds=source.batching_window_seconds,
                function_response_types=["ReportBatchItemFailures"],
                # Lambda checks at creation that the role may receive from the queue.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
        self.register_outputs({"name": self.name, "arn": self.arn, "alias_arn": self.alias_arn})

    def metric_errors(self) -> CloudWatchMetric:
        return self._metric("Errors", "errors")

    def metric_throttles(self) -> CloudWatchMetric:
        return self._metric("Throttles", "throttles")

    def metric_invocations(self) -> CloudWatchMetric:
        return self._metric("Invocations", "invocations")

    def metric_duration(self) -> CloudWatchMetric:
        return CloudWatchMetric(
            namespace="AWS/Lambda",
            name="Duration",
            dimensions={"FunctionName": self.name},
            label=f"{self._label} average duration (ms)",
            statistic="Average",
        )

    def _gate_rules(self, args: FunctionArgs) -> list[AlarmRule]:
        """The new version's alarms, on what it served through the alias (not the pre-traffic checks)."""
        timeout_ms = args.timeout_seconds * 1000
        return [
            AlarmRule("errors", self._version_metric("Errors", "errors", "Sum"), args.rollout.errors),
            AlarmRule("throttles", self._version_metric("Throttles", "throttles", "Sum"), 1),
            AlarmRule(
                "duration",
                self._version_metric("Duration", "average duration (ms)", "Average"),
                _GATE_DURATION_SHARE * timeout_ms,
            ),
        ]

    def _version_metric(self, metric_name: str, what: str, statistic: Statistic) -> CloudWatchMetric:
        return CloudWatchMetric(
            namespace="AWS/Lambda",
            name=metric_name,
            dimensions={
                "FunctionName": self.name,
                "Resource": pulumi.Output.concat(self.name, ":", ALIAS),
                "ExecutedVersion": self._published,
            },
            label=f"{self._label} new version {what}",
            statistic=statistic,
            period_seconds=_GATE_PERIOD_SECONDS,
        )

    def _metric(self, metric_name: str, what: str) -> CloudWatchMetric:
        return CloudWatchMetric(
            namespace="AWS/Lambda",
            name=metric_name,
            dimensions={"FunctionName": self.name},
            label=f"{self._label} {what}",
        )


def _check_queue_source(name: str, args: FunctionArgs) -> None:
    """What Lambda would refuse when creating the mapping, refused before anything is declared."""
    source = args.queue_source
    if source is None:
        return
    if not 1 <= source.batch_size <= 10000:
        raise ValueError(f"function {name}: queue batch size must be 1-10000")
    if not 0 <= source.batching_window_seconds <= 300:
        raise ValueError(f"function {name}: queue batching window must be 0-300 seconds")
    if source.batch_size > 10 and source.batching_window_seconds == 0:
        raise ValueError(f"function {name}: a queue batch size above 10 needs a batching window")
    if source.queue.visibility_timeout_seconds < args.timeout_seconds:
        raise ValueError(
            f"function {name}: its queue's visibility timeout ({source.queue.visibility_timeout_seconds} s) "
            f"is shorter than its timeout ({args.timeout_seconds} s)"
        )
