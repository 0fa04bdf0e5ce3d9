"""The delivery file: which GitHub repositories a stack manages, and what each one gets.

The file is data, validated like an instance file (one line naming the file
and field). It holds no secret: a repository's secrets and variables name a
*source*, a value this program has or creates, and the program fills it in.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from stack_config.data_file import load_data_file
from stack_config.stacks import deploy_environment, plan_environment, tenants_environment

# Values only the `secrets` of a repository or environment may take.
SECRET_SOURCES = ("cloudflare-api-token", "image-api-key")
# `tenant-api-key/<instance_id>/<key name>`: one of the keys generated for a tenant instance.
TENANT_KEY_SOURCE = re.compile(r"tenant-api-key/(?P<instance>[a-z0-9-]+)/(?P<key>[a-z0-9-]+)")
# Values that are not secret, for variables (secrets may use them too).
VALUE_SOURCES = ("cloudflare-account-id", "ai-worker-url", "tenant-registry-database")

# GitHub's rules for Actions secret and variable names.
_ACTIONS_NAME = r"^(?!(?i:GITHUB_))[A-Za-z_][A-Za-z0-9_]*$"
_GITHUB_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


@dataclass(frozen=True)
class TenantKeySecret:
    """An Actions secret a delivery file fills with one of a tenant's keys."""

    repository: str
    environment: str | None
    """None: a repository secret; else the environment's name."""
    secret_name: str
    key: str
    """The key's name among the instance's `api_keys`."""


class DeliveryFileError(pulumi.RunError):
    """A bad delivery file; it stops the program with one line before anything is declared."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A variable's value written in the file itself: `{value: <text>}`."""

    value: str


Secrets = Annotated[dict[str, str], AfterValidator(lambda secrets: _check_secrets(secrets))]
"""Secret name to source."""
Variables = Annotated[dict[str, str | Text], AfterValidator(lambda variables: _check_variables(variables))]
"""Variable name to source, or to `{value: <text>}`."""


class ReviewersSpec(_Strict):
    users: list[str] = Field(default=[], description="GitHub logins.")
    teams: list[str] = Field(default=[], description="Team slugs of the owner organisation.")


class EnvironmentSpec(_Strict):
    name: str = Field(pattern=_GITHUB_NAME)
    reviewers: ReviewersSpec = ReviewersSpec()
    secrets: Secrets = {}
    variables: Variables = {}
    prevent_self_review: bool = Field(
        default=True,
        description="Whoever started a run cannot approve it. A team of one sets it false, or names two reviewers.",
    )
    default_branch_only: bool = Field(
        default=True, description="Only runs of the default branch may use the environment; false: any branch."
    )
    wait_timer_minutes: int = Field(default=0, ge=0, le=43_200)

    @model_validator(mode="after")
    def _someone_can_approve(self) -> "EnvironmentSpec":
        # With self-review prevented, a lone reviewer could never approve a run they started
        # (a merge of theirs): the environment would wait forever.
        if self.prevent_self_review and not self.reviewers.teams and len(self.reviewers.users) == 1:
            raise ValueError(
                f"{self.name}: one reviewer who may not approve their own runs; name a second reviewer "
                "or a team, or set prevent_self_review: false"
            )
        return self


class CodeOwnersSpec(_Strict):
    pattern: str = Field(min_length=1)
    owners: list[str] = Field(min_length=1)


class DependabotSpec(_Strict):
    ecosystem: str
    directory: str = "/"
    interval: Literal["daily", "weekly", "monthly"] = "weekly"


class RepositorySpec(_Strict):
    name: str = Field(pattern=_GITHUB_NAME)
    default_branch: str = "main"
    required_checks: list[str] = []
    required_approvals: int = Field(default=1, ge=0, le=10)
    require_last_push_approval: bool = Field(
        default=True,
        description="The last push needs someone else's approval. A team of one turns it off "
        "(with required_approvals: 0): nobody else could ever approve.",
    )
    require_code_owner_review: bool = False
    secrets: Secrets = {}
    variables: Variables = {}
    environments: list[EnvironmentSpec] = []
    codeowners: list[CodeOwnersSpec] = []
    dependabot: list[DependabotSpec] = []
    orchestrator_webhook: bool = Field(
        default=False, description="Install the orchestrator's webhook, so a `ready` issue starts a run."
    )

    @model_validator(mode="after")
    def _environments_listed_once(self) -> "RepositorySpec":
        # GitHub compares environment names in any case, and each one's resources are named after it.
        names = [environment.name.lower() for environment in self.environments]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"environments listed twice: {', '.join(repeated)}")
        return self


class OidcSubjectSpec(_Strict):
    """How GitHub writes the deploying repository into its OIDC tokens' `sub` claim."""

    format: Literal["legacy", "id"] = Field(
        description="legacy: repo:<owner>/<name>:...; id: repo:<owner>@<owner id>/<name>@<repository id>:... "
        "(repositories created or renamed since 2026-07-15)"
    )
    owner_id: int | None = Field(default=None, ge=1)
    repository_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ids_match_the_format(self) -> "OidcSubjectSpec":
        ids = (self.owner_id, self.repository_id)
        if self.format == "id" and None in ids:
            raise ValueError("the id format needs owner_id and repository_id (GET /repos/<owner>/<name>: owner.id, id)")
        if self.format == "legacy" and ids != (None, None):
            raise ValueError("owner_id and repository_id belong to the id format; the legacy subject has no ids")
        return self


class StackDeliverySpec(_Strict):
    """What one stack's delivery needs beyond its environments, `<stack>` and `<stack>-plan`."""

    state_bucket: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="The S3 bucket of the stack's self-managed state backend: one per stack, so no "
        "stack's roles can read or write another's state.",
    )
    state_kms_key_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:kms:", description="The KMS key of the stack's awskms:// secrets."
    )
    aws_account_id: str | None = Field(
        default=None,
        pattern=r"^[0-9]{12}$",
        description="The AWS account of the stack, when each stack has its own; its bootstrap stack "
        "creates the stack's CI roles there.",
    )


class DeliverySpec(_Strict):
    owner: str = Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$")
    deploying_repository: str = Field(description="The repository whose workflows preview and deploy this program.")
    oidc_subject: OidcSubjectSpec
    stacks: dict[str, StackDeliverySpec] = Field(
        default={},
        description="Settings of the stacks (each a Pulumi.<stack>.yaml) that need more than their environments.",
    )
    preview_stack: str = Field(default="dev", description="The stack pull requests preview for real.")
    preview_environment: str = Field(
        default="preview", pattern=_GITHUB_NAME, description="Pull requests' previews run in it, once approved."
    )
    github_app_id: int | None = Field(
        default=None,
        ge=1,
        description="The GitHub App the workflows act as: rulesets let it commit generated files, beside the "
        "admin role of the delivery token's user, whose token the program's own commits are made with.",
    )
    repositories: list[RepositorySpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _deployment_is_consistent(self) -> "DeliverySpec":
        if self.deploying_repository not in {repository.name for repository in self.repositories}:
            raise ValueError(f"deploying_repository {self.deploying_repository!r} is not among the repositories")
        buckets = [stack.state_bucket for stack in self.stacks.values() if stack.state_bucket]
        shared = sorted({bucket for bucket in buckets if buckets.count(bucket) > 1})
        if shared:
            raise ValueError(f"each stack needs a state bucket of its own; shared: {', '.join(shared)}")
        return self

    def tenant_keys(self) -> set[tuple[str, str]]:
        """`(instance_id, key name)` of every tenant key a secret names."""
        named = [
            value
            for repository in self.repositories
            for scope in [repository, *repository.environments]
            for value in scope.secrets.values()
        ]
        return {(match["instance"], match["key"]) for value in named if (match := TENANT_KEY_SOURCE.fullmatch(value))}

    def tenant_key_secrets(self, instance_id: str) -> list["TenantKeySecret"]:
        """Every secret naming one of `instance_id`'s keys, where it goes: what that tenant's stack sets."""
        return [
            TenantKeySecret(repository.name, environment, name, match["key"])
            for repository in self.repositories
            for environment, scope in [(None, repository), *((e.name, e) for e in repository.environments)]
            for name, value in scope.secrets.items()
            if (match := TENANT_KEY_SOURCE.fullmatch(value)) and match["instance"] == instance_id
        ]

    def uses(self, source: str) -> bool:
        return any(
            source in scope.secrets.values() or source in scope.variables.values()
            for repository in self.repositories
            for scope in [repository, *repository.environments]
        )


def load_delivery_spec(
    path: Path, tenant_keys: set[tuple[str, str]], stacks: Sequence[str], guarded_stacks: Sequence[str]
) -> DeliverySpec:
    """The file at `path`, validated against the project: every tenant key it names among
    `tenant_keys` (`(instance_id, key name)` of every instance file: each tenant's stack sets its
    own), every stack it names among `stacks` (those with a `Pulumi.<stack>.yaml`), and a preview
    stack that is not guarded."""
    spec = load_data_file(path, DeliverySpec, DeliveryFileError)
    unknown_stacks = sorted(set(spec.stacks) - set(stacks))
    if unknown_stacks:
        raise DeliveryFileError(f"{path}: stacks: {unknown_stacks[0]} has no Pulumi.{unknown_stacks[0]}.yaml")
    if spec.preview_stack not in stacks:
        raise DeliveryFileError(f"{path}: preview_stack: {spec.preview_stack} has no Pulumi.{spec.preview_stack}.yaml")
    if spec.preview_stack in guarded_stacks:
        raise DeliveryFileError(
            f"{path}: preview_stack: {spec.preview_stack} is guarded, and pull requests' code would read its state"
        )
    # GitHub compares environment names in any case.
    environments = [spec.preview_environment.lower()] + [
        name.lower()
        for stack in stacks
        for name in (deploy_environment(stack), plan_environment(stack), tenants_environment(stack))
    ]
    repeated = sorted({name for name in environments if environments.count(name) > 1})
    if repeated:
        raise DeliveryFileError(
            f"{path}: preview_environment: each stack needs environments of its own "
            "(<stack>, <stack>-plan, <stack>-tenants), and the preview one of its own; "
            f"used twice: {', '.join(repeated)}"
        )
    unknown = sorted(spec.tenant_keys() - tenant_keys)
    if unknown:
        instance, key = unknown[0]
        raise DeliveryFileError(f"{path}: secrets: tenant-api-key/{instance}/{key} names no key of any instance file")
    return spec


def _check_secrets(secrets: dict[str, str]) -> dict[str, str]:
    _check_names(secrets)
    for name, source in secrets.items():
        if source not in SECRET_SOURCES + VALUE_SOURCES and not TENANT_KEY_SOURCE.fullmatch(source):
            known = ", ".join((*SECRET_SOURCES, "tenant-api-key/<instance>/<key>", *VALUE_SOURCES))
            raise ValueError(f"{name}: {source!r} is not a source the program provides; use one of {known}")
    return secrets


def _check_variables(variables: dict[str, str | Text]) -> dict[str, str | Text]:
    _check_names(variables)
    for name, source in variables.items():
        if isinstance(source, Text) or source in VALUE_SOURCES:
            continue
        if source in SECRET_SOURCES or TENANT_KEY_SOURCE.fullmatch(source):
            raise ValueError(f"{name}: {source!r} is secret and variables are readable by anyone; make it a secret")
        raise ValueError(
            f"{name}: {source!r} is not a source the program provides; use one of {', '.join(VALUE_SOURCES)}, "
            "or {value: <text>}"
        )
    return variables


def _check_names(values: Mapping[str, object]) -> None:
    bad = [name for name in values if not re.fullmatch(_ACTIONS_NAME, name)]
    if bad:
        raise ValueError(f"names must be letters, digits and underscores, not starting with GITHUB_: {bad}")
