"""The program of a tenant stack (`tenants/__main__.py`): one instance file, its platform stack's
exports, and the resources of that tenant alone.

Its names are the ones the tenant had when the platform stack declared every tenant: logical
names `tenants-<id>...` and physical names `orchestra-...-<platform stack>`, so an existing
stack's tenants move into their own stacks with `pulumi state move` and nothing is replaced.

The tenant's resources are declared once the platform stack's exports are read: every tenant
resource is made from them (the account, protection, the shared services), and a stack
reference is read during a preview too, so the preview shows each resource with its values.
"""

import os
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import pulumi

from components.cloudflare.account import CloudflareAccount, CloudflareAccountArgs
from components.github.actions import ActionsSettings, ActionsSettingsArgs
from components.github.owner import GitHubOwner, GitHubOwnerArgs
from components.naming import fragment, name_as
from components.providers.provider import ENVIRONMENT_PREFIX
from stack_config.data_file import load_data_file
from systems.delivery.spec import DeliveryFileError, DeliverySpec, TenantKeySecret
from systems.worker_common import ErrorTracking

from .instance import TenantInstance, TenantInstanceArgs
from .instances import Instance, InstanceError, load_stack_instance
from .platform import PlatformFacts, PlatformStack, PlatformStackError
from .platform_name import PLATFORM_STACK_SETTING, platform_stack_of
from .scripts import TENANT_SERVICES
from .system import rate_limiter
from .tenant_config import API_TOKEN_VARIABLE, TenantConfigError, api_token_from_environment, load_tenant_config

TENANT_OUTPUTS = ("services", "apiKeys", "healthUrls", "serviceVersions")
"""A tenant stack's outputs: its services' URLs, its API keys (secret), and for the smoke check
each service's `/healthz` URL and the version it must report."""
# The name the platform stack gave the tenants' shared component; each tenant's names start with it.
TENANTS = "tenants"


def declare_tenant_stack(repository: Path, project_dir: Path, stack: str) -> None:
    """Everything is checked (settings, instance file, delivery file, token) before the first declaration."""
    config = load_tenant_config()
    instance = load_stack_instance(repository / "instances", stack)
    platform_name = platform_stack_of(config.platform_stack, instance.environment)
    if platform_name is None:
        raise TenantConfigError(
            f"{PLATFORM_STACK_SETTING}: must be <organization>/<project>/<stack> (got {config.platform_stack!r})"
        )
    key_secrets = (
        tenant_key_secrets(Path(os.path.normpath(project_dir / config.delivery_file)), instance)
        if config.delivery_file
        else ([], "")
    )
    api_token = api_token_from_environment()

    name_as(platform_name.project, platform_name.stack)
    platform = PlatformStack(platform_name)
    declared = pulumi.Output.all(platform.facts, platform.reports_errors).apply(
        lambda resolved: _declare(instance, resolved[0], resolved[1], platform, api_token, key_secrets)
    )
    for key in TENANT_OUTPUTS:
        pulumi.export(key, declared.apply(lambda outputs, key=key: outputs[key]))


def tenant_key_secrets(path: Path, instance: Instance) -> tuple[list[TenantKeySecret], str]:
    """The delivery file's secrets filled with this tenant's keys, and the GitHub owner they belong to."""
    spec = load_data_file(path, DeliverySpec, DeliveryFileError)
    secrets = spec.tenant_key_secrets(instance.instance_id)
    for secret in secrets:
        if secret.key not in instance.api_keys:
            raise DeliveryFileError(
                f"{path}: secrets: tenant-api-key/{instance.instance_id}/{secret.key} names no key of "
                f"{instance.instance_id} (its api_keys: {', '.join(instance.api_keys)})"
            )
    return secrets, spec.owner


def _declare(
    instance: Instance,
    facts: PlatformFacts,
    reports_errors: bool,
    platform: PlatformStack,
    api_token: pulumi.Output[str],
    key_secrets: tuple[list[TenantKeySecret], str],
) -> Mapping[str, pulumi.Output[object]]:
    """The stack's outputs, each its own Output so that only the keys are secret."""
    _check_against_platform(instance, facts, platform)
    account = CloudflareAccount(
        "cloudflare",
        CloudflareAccountArgs(
            account_id=facts.account_id,
            api_token=api_token,
            api_token_setting=f"{ENVIRONMENT_PREFIX}{API_TOKEN_VARIABLE}",
            workers_dev_subdomain=facts.workers_subdomain,
        ),
    )
    error_tracking = ErrorTracking(
        environment=platform.name.stack, dsn=platform.error_tracking_dsn if reports_errors else None
    )
    limiter = (
        rate_limiter(
            account,
            f"{TENANTS}-rate-limiter-{instance.instance_id}",
            pulumi.ResourceOptions(),
            error_tracking=error_tracking,
            rollout=facts.worker_rollout,
            log_sampling_rate=facts.worker_log_sampling_rate,
        ).script_name
        if instance.dedicated_rate_limiter
        else facts.shared_rate_limiter
    )
    tenant = TenantInstance(
        f"{TENANTS}-{instance.instance_id}",
        TenantInstanceArgs(
            account=account,
            instance=instance,
            registry_database_id=facts.registry_database_id,
            shared_images_bucket=facts.shared_images_bucket,
            rate_limiter=limiter,
            protect_stateful_resources=facts.protect_stateful_resources,
            image_api_url=facts.image_api_url,
            image_api_key=platform.image_api_key,
            image_model=facts.image_model,
            error_tracking=error_tracking,
            rollout=facts.worker_rollout,
            log_sampling_rate=facts.worker_log_sampling_rate,
        ),
    )
    _set_key_secrets(f"{TENANTS}-{instance.instance_id}-delivery", tenant, *key_secrets)

    # `GET /healthz` of each of the tenant's services, and the version this deploy gives it, for the
    # smoke check after each deploy: a service still reporting another version is stale.
    services = {service.public_name(instance.instance_id): tenant.services[service.kind] for service in TENANT_SERVICES}
    return {
        "services": pulumi.Output.from_input(
            {service.output_key: tenant.services[service.kind][0] for service in TENANT_SERVICES}
        ),
        "apiKeys": tenant.api_keys,
        "healthUrls": pulumi.Output.from_input(
            {name: pulumi.Output.concat(url, "/healthz") for name, (url, _) in services.items()}
        ),
        "serviceVersions": pulumi.Output.from_input({name: version for name, (_, version) in services.items()}),
    }


def _check_against_platform(instance: Instance, facts: PlatformFacts, platform: PlatformStack) -> None:
    if instance.environment != facts.environment:
        raise InstanceError(
            f"instances/{instance.instance_id}.yaml: environment: {instance.environment!r}, but its platform "
            f"stack {platform.name} is a {facts.environment!r} environment ({PLATFORM_STACK_SETTING})"
        )
    if facts.image_model not in instance.rate_limits:
        raise InstanceError(
            f"instances/{instance.instance_id}.yaml: rate_limits: needs limits for {facts.image_model!r}, "
            "the model the platform's image-gen workers use"
        )
    if not facts.workers_subdomain:
        raise PlatformStackError(
            f"{platform.name}: orchestra:cloudflareWorkersSubdomain is empty; tenant workers are served on "
            "workers.dev, whose URLs the registry records"
        )


def _set_key_secrets(name: str, tenant: TenantInstance, secrets: list[TenantKeySecret], owner: str) -> None:
    """The Actions secrets the delivery file fills with this tenant's keys: set, rotated and removed
    with the tenant's own stack, never by the platform's."""
    if not secrets:
        return
    github = GitHubOwner(f"{name}-github", GitHubOwnerArgs(owner=owner))
    on_github = pulumi.ResourceOptions(provider=github.provider)
    scopes: dict[tuple[str, str | None], dict[str, pulumi.Input[str]]] = defaultdict(dict)
    for secret in secrets:
        scopes[(secret.repository, secret.environment)][secret.secret_name] = tenant.api_keys.apply(
            lambda keys, key=secret.key: keys[key]
        )
    for (repository, environment), values in sorted(scopes.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        scope = fragment(repository) + (f"-{fragment(environment)}" if environment else "")
        ActionsSettings(
            f"{name}-{scope}-actions",
            ActionsSettingsArgs(repository=repository, secrets=values, environment=environment),
            on_github,
        )
