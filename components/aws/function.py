"""A Python Lambda function with its own role, log group and deterministic package."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws

from ..naming import IAM_ROLE, LAMBDA_FUNCTION, physical_name
from .link import Link, PolicyStatement, policy_document
from .metric import Metric
from .packaging import build_python_package

_LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}],
}


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


class Function(pulumi.ComponentResource):
    """Lambda + role (trusting only Lambda, allowed only what its links grant and its own logs)
    + `/aws/lambda/<name>` log group with retention, declared before the function so Lambda
    never creates an unmanaged one."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]

    def __init__(self, name: str, args: FunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:Function", name, None, opts)
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
            opts=child,
        )
        # Streams are named by Lambda at run time, so this is the one ARN pattern that must
        # end in a wildcard; it stays inside the function's own log group.
        log_statement = PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[pulumi.Output.concat(self.log_group.arn, ":log-stream:*")],
        )
        statements = [log_statement, *(s for link in args.links for s in link.statements)]
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=policy_document(statements),
            opts=child,
        )
        environment = {key: value for link in args.links for key, value in link.environment.items()}
        environment.update(args.environment)
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
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment) if environment else None,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=self.log_group.name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, policy]),
        )
        self.name = self.function.name
        self.arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        self.register_outputs({"name": self.name, "arn": self.arn})

    def metric_errors(self) -> Metric:
        return self._metric("Errors", "errors")

    def metric_throttles(self) -> Metric:
        return self._metric("Throttles", "throttles")

    def metric_invocations(self) -> Metric:
        return self._metric("Invocations", "invocations")

    def metric_duration(self) -> Metric:
        return Metric(
            namespace="AWS/Lambda",
            name="Duration",
            dimensions={"FunctionName": self.name},
            label=f"{self._label} average duration (ms)",
            statistic="Average",
        )

    def _metric(self, metric_name: str, what: str) -> Metric:
        return Metric(
            namespace="AWS/Lambda",
            name=metric_name,
            dimensions={"FunctionName": self.name},
            label=f"{self._label} {what}",
        )
