"""A repository's (or one of its environments') GitHub Actions secrets and variables."""

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_github as github

from .names import check_actions_names


@dataclass(frozen=True)
class ActionsSettingsArgs:
    repository: pulumi.Input[str]
    """The repository's name (the owner is the provider's)."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Name → value. Every value is wrapped as a Pulumi secret here, whatever it arrives as."""
    variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Name → value. GitHub shows variables in plain text to anyone who can read the repository's
    settings or logs, so nothing secret belongs here."""
    environment: pulumi.Input[str] | None = None
    """None: repository-level. Otherwise the environment's name; pass the `DeploymentEnvironment` block's
    `name` output so these wait for the environment to exist."""


class ActionsSettings(pulumi.ComponentResource):
    """`ActionsSecret`/`ActionsVariable` per entry, or their `ActionsEnvironment*` forms for an
    environment. Secrets are set through the provider's `value` (it encrypts them with the
    repository's public key); the deprecated `plaintext_value` is not used."""

    secret_names: list[str]
    variable_names: list[str]

    def __init__(self, name: str, args: ActionsSettingsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:github:ActionsSettings", name, None, opts)
        self.secret_names = sorted(args.secrets)
        self.variable_names = sorted(args.variables)
        check_actions_names(f"{name}: secret", self.secret_names)
        check_actions_names(f"{name}: variable", self.variable_names)
        child = pulumi.ResourceOptions(parent=self)

        for secret_name in self.secret_names:
            value = pulumi.Output.secret(args.secrets[secret_name])
            logical = f"{name}-secret-{secret_name.lower()}"
            if args.environment is None:
                github.ActionsSecret(
                    logical, repository=args.repository, secret_name=secret_name, value=value, opts=child
                )
            else:
                github.ActionsEnvironmentSecret(
                    logical,
                    repository=args.repository,
                    environment=args.environment,
                    secret_name=secret_name,
                    value=value,
                    opts=child,
                )
        for variable_name in self.variable_names:
            logical = f"{name}-variable-{variable_name.lower()}"
            value = args.variables[variable_name]
            if args.environment is None:
                github.ActionsVariable(
                    logical, repository=args.repository, variable_name=variable_name, value=value, opts=child
                )
            else:
                github.ActionsEnvironmentVariable(
                    logical,
                    repository=args.repository,
                    environment=args.environment,
                    variable_name=variable_name,
                    value=value,
                    opts=child,
                )
        self.register_outputs({"secret_names": self.secret_names, "variable_names": self.variable_names})
