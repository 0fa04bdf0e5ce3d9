"""The values a delivery file's sources name, taken from the stack and the other systems, and the
`DeliveryArgs` they fill in: nothing is copied by hand from one provider to another."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.cloudflare.account import CloudflareAccount
from components.cloudflare.account_token import AccountToken, AccountTokenArgs
from components.github.deployment_environment import Reviewers
from components.github.files import CodeOwnersRule, DependabotUpdate

from .spec import (
    TENANT_KEY_SOURCE,
    DeliverySpec,
    EnvironmentSpec,
    RepositorySpec,
    Secrets,
    StackDeliverySpec,
    Text,
    Variables,
)
from .system import DeliveredRepository, DeliveryArgs, DeliveryEnvironment, StackDelivery


@dataclass(frozen=True)
class DeliverySources:
    secrets: Mapping[str, pulumi.Input[str]]
    """Source name to a secret value."""
    values: Mapping[str, pulumi.Input[str]]
    """Source name to a value that is not secret."""


def program_sources(
    spec: DeliverySpec,
    account: CloudflareAccount,
    image_api_key: pulumi.Input[str],
    ai_worker_url: pulumi.Input[str] | None,
    tenant_registry_database: pulumi.Input[str],
) -> DeliverySources:
    """Every source the spec names but the tenant keys, which each tenant's own stack sets
    (`tenant_key_secrets`). The scoped Cloudflare token is created only when one is named."""
    secrets: dict[str, pulumi.Input[str]] = {"image-api-key": pulumi.Output.secret(image_api_key)}
    if spec.uses("cloudflare-api-token"):
        secrets["cloudflare-api-token"] = AccountToken("workers-deploy", AccountTokenArgs(account=account)).value
    values: dict[str, pulumi.Input[str]] = {
        "cloudflare-account-id": account.account_id,
        "tenant-registry-database": tenant_registry_database,
    }
    if ai_worker_url is not None:
        values["ai-worker-url"] = ai_worker_url
    return DeliverySources(secrets=secrets, values=values)


def delivery_args(
    spec: DeliverySpec,
    sources: DeliverySources,
    orchestrator_webhook_url: pulumi.Input[str],
    orchestrator_webhook_secret: pulumi.Input[str],
    stacks: Sequence[str],
    guarded_stacks: Sequence[str],
) -> DeliveryArgs:
    """`stacks`: every stack of the project (`stack_config.stacks.stack_names`); `guarded_stacks`:
    `orchestra:guardedStacks`."""
    return DeliveryArgs(
        github_owner=spec.owner,
        repositories=[_repository(repository, sources) for repository in spec.repositories],
        deploying_repository=spec.deploying_repository,
        orchestrator_webhook_url=orchestrator_webhook_url,
        orchestrator_webhook_secret=orchestrator_webhook_secret,
        aws_name_prefix=pulumi.get_project(),
        stacks={
            name: StackDelivery(
                guarded=name in guarded_stacks,
                state_bucket=settings.state_bucket,
                state_kms_key_arn=settings.state_kms_key_arn,
                aws_account_id=settings.aws_account_id,
            )
            for name in stacks
            for settings in [spec.stacks.get(name, StackDeliverySpec())]
        },
        preview_stack=spec.preview_stack,
        preview_environment=spec.preview_environment,
        github_app_id=spec.github_app_id,
    )


def _repository(spec: RepositorySpec, sources: DeliverySources) -> DeliveredRepository:
    return DeliveredRepository(
        name=spec.name,
        default_branch=spec.default_branch,
        required_checks=spec.required_checks,
        required_approvals=spec.required_approvals,
        require_last_push_approval=spec.require_last_push_approval,
        require_code_owner_review=spec.require_code_owner_review,
        secrets=_secrets(spec.secrets, sources),
        variables=_variables(spec.variables, sources),
        environments=[_environment(environment, sources) for environment in spec.environments],
        codeowners=[CodeOwnersRule(pattern=rule.pattern, owners=rule.owners) for rule in spec.codeowners],
        dependabot=[
            DependabotUpdate(ecosystem=update.ecosystem, directory=update.directory, interval=update.interval)
            for update in spec.dependabot
        ],
        sends_issue_events=spec.orchestrator_webhook,
    )


def _environment(spec: EnvironmentSpec, sources: DeliverySources) -> DeliveryEnvironment:
    return DeliveryEnvironment(
        name=spec.name,
        reviewers=Reviewers(users=spec.reviewers.users, teams=spec.reviewers.teams),
        secrets=_secrets(spec.secrets, sources),
        variables=_variables(spec.variables, sources),
        prevent_self_review=spec.prevent_self_review,
        default_branch_only=spec.default_branch_only,
        wait_timer_minutes=spec.wait_timer_minutes,
    )


def _secrets(secrets: Secrets, sources: DeliverySources) -> dict[str, pulumi.Input[str]]:
    return {
        name: _source(source, sources, secret=True)
        for name, source in secrets.items()
        if not TENANT_KEY_SOURCE.fullmatch(source)
    }


def _variables(variables: Variables, sources: DeliverySources) -> dict[str, pulumi.Input[str]]:
    return {
        name: source.value if isinstance(source, Text) else _source(source, sources, secret=False)
        for name, source in variables.items()
    }


def _source(source: str, sources: DeliverySources, *, secret: bool) -> pulumi.Input[str]:
    if secret and source in sources.secrets:
        return sources.secrets[source]
    if source in sources.values:
        return sources.values[source]
    # The spec was checked against the program's sources; only a missing value lands here.
    raise ValueError(f"delivery: the source {source!r} has no value in this stack")
