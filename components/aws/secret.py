"""A runtime secret in Secrets Manager or SSM Parameter Store, whose value is always a Pulumi secret."""

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from ..naming import SECRETS_MANAGER_SECRET, parameter_path, physical_name
from ..stateful import stateful_options
from .link import Link, PolicyStatement

SecretStore = Literal["secretsmanager", "ssm"]


@dataclass(frozen=True)
class SecretArgs:
    value: pulumi.Input[str]
    """Wrapped as a Pulumi secret here whatever it arrives as, so it never shows in plain text."""
    description: str
    store: SecretStore = "secretsmanager"
    protect: bool = True
    """`protect`/`retain_on_delete`, and (Secrets Manager) a 30-day recovery window instead of none."""


class Secret(pulumi.ComponentResource):
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:Secret", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        value = pulumi.Output.secret(args.value)
        self._store = args.store
        if args.store == "secretsmanager":
            secret = aws.secretsmanager.Secret(
                name,
                name=physical_name(name, SECRETS_MANAGER_SECRET),
                description=args.description,
                # Without protection the stack is throwaway: delete at once so the name can be reused.
                recovery_window_in_days=30 if args.protect else 0,
                opts=stateful_options(args.protect, child),
            )
            aws.secretsmanager.SecretVersion(f"{name}-value", secret_id=secret.id, secret_string=value, opts=child)
            self.arn = secret.arn
        else:
            parameter = aws.ssm.Parameter(
                name,
                name=parameter_path(name),
                description=args.description,
                type="SecureString",
                value=value,
                opts=stateful_options(args.protect, child),
            )
            self.arn = parameter.arn
        self.register_outputs({"arn": self.arn})

    def link_read(self, env: str) -> Link:
        """Read access to this one secret; the function finds it through `env`, which holds its ARN."""
        action = "secretsmanager:GetSecretValue" if self._store == "secretsmanager" else "ssm:GetParameter"
        return Link(statements=[PolicyStatement(actions=[action], resources=[self.arn])], environment={env: self.arn})
