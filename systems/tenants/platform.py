"""What a tenant stack reads from its platform stack: the one list of the platform's exports that
tenant stacks depend on, the platform's side exporting them and the tenant's side reading them.

The platform stack (the `orchestra` project, one stack per environment) holds what every tenant
shares: the registry database, the shared rate limiter and image bucket, the account and its
token, the image API. It exports these under the names below; each tenant stack (the
`orchestra-tenant` project) reads them through a `pulumi.StackReference`, so the platform
never lists a tenant and removing one never touches it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.cloudflare.worker import WorkerRolloutSettings

from .platform_name import PLATFORM_STACK_SETTING, PlatformStackName

REGISTRY_DATABASE = "tenantRegistryDatabase"
REGISTRY_DATABASE_ID = "tenantRegistryDatabaseId"
SHARED_RATE_LIMITER = "tenantRateLimiter"
SHARED_IMAGES_BUCKET = "tenantImagesBucket"
ACCOUNT_ID = "cloudflareAccountId"
WORKERS_SUBDOMAIN = "cloudflareWorkersSubdomain"
API_TOKEN = "cloudflareApiToken"  # noqa: S105 - an output's name, not a credential
"""Secret. Tenant stacks use it as `CLOUDFLARE_API_TOKEN` (see `tenants/__main__.py`)."""
IMAGE_API_URL = "imageApiUrl"
IMAGE_API_KEY = "imageApiKey"
"""Secret."""
IMAGE_MODEL = "imageModel"
ERROR_TRACKING_DSN = "errorTrackingDsn"
"""Secret; exported only when the platform reports errors, so that whether it does is known."""
PROTECT_STATEFUL_RESOURCES = "protectStatefulResources"
ENVIRONMENT = "environment"
WORKER_CANARY_PERCENT = "workerCanaryPercent"
WORKER_CANARY_MINUTES = "workerCanaryMinutes"
WORKER_LOG_SAMPLING_PERCENT = "workerLogSamplingPercent"
"""The share of invocations Workers Logs keeps, for the tenant's workers as for the platform's."""
"""The platform's worker rollout settings, which the tenant's workers roll out with too."""

SECRET_OUTPUTS = (API_TOKEN, IMAGE_API_KEY, ERROR_TRACKING_DSN)
FACT_OUTPUTS = (
    REGISTRY_DATABASE_ID,
    SHARED_RATE_LIMITER,
    SHARED_IMAGES_BUCKET,
    ACCOUNT_ID,
    WORKERS_SUBDOMAIN,
    IMAGE_API_URL,
    IMAGE_MODEL,
    PROTECT_STATEFUL_RESOURCES,
    ENVIRONMENT,
    WORKER_CANARY_PERCENT,
    WORKER_CANARY_MINUTES,
    WORKER_LOG_SAMPLING_PERCENT,
)
"""Plain values a tenant stack declares its resources from."""
REQUIRED_READS = (*FACT_OUTPUTS, IMAGE_API_KEY)
"""Every export a tenant stack's program needs (`API_TOKEN` is read by whoever runs it; the
program reads `ERROR_TRACKING_DSN` too, when there is one)."""


@dataclass(frozen=True)
class PlatformFacts:
    """The platform's plain exports, resolved: what a tenant's resources are declared from."""

    registry_database_id: str
    shared_rate_limiter: str
    shared_images_bucket: str
    account_id: str
    workers_subdomain: str
    image_api_url: str
    image_model: str
    protect_stateful_resources: bool
    environment: str
    worker_rollout: WorkerRolloutSettings
    worker_log_sampling_rate: float

    @classmethod
    def from_outputs(cls, values: Mapping[str, Any]) -> "PlatformFacts":
        return cls(
            registry_database_id=str(values[REGISTRY_DATABASE_ID]),
            shared_rate_limiter=str(values[SHARED_RATE_LIMITER]),
            shared_images_bucket=str(values[SHARED_IMAGES_BUCKET]),
            account_id=str(values[ACCOUNT_ID]),
            workers_subdomain=str(values[WORKERS_SUBDOMAIN]),
            image_api_url=str(values[IMAGE_API_URL]),
            image_model=str(values[IMAGE_MODEL]),
            protect_stateful_resources=values[PROTECT_STATEFUL_RESOURCES] is True,
            environment=str(values[ENVIRONMENT]),
            worker_rollout=WorkerRolloutSettings(
                canary_percent=int(values[WORKER_CANARY_PERCENT]), canary_minutes=int(values[WORKER_CANARY_MINUTES])
            ),
            worker_log_sampling_rate=int(values[WORKER_LOG_SAMPLING_PERCENT]) / 100,
        )


class PlatformStackError(pulumi.RunError):
    """The platform stack a tenant stack reads lacks what it needs; one line, like a bad setting."""


class PlatformStack:
    """The platform stack as a tenant stack reads it."""

    def __init__(self, name: PlatformStackName) -> None:
        self.name = name
        self.reference = pulumi.StackReference(f"platform-{name.stack}", stack_name=str(name))
        # Read name by name: the whole `outputs` is secret when any output is, and these are not.
        # Secret outputs of a referenced stack stay secret in the referencing one; whether one is
        # there at all says nothing of its value.
        self.image_api_key: pulumi.Output[str] = pulumi.Output.secret(self.reference.get_output(IMAGE_API_KEY))
        self.error_tracking_dsn: pulumi.Output[str] = pulumi.Output.secret(
            self.reference.get_output(ERROR_TRACKING_DSN)
        )
        self.reports_errors: pulumi.Output[bool] = pulumi.Output.unsecret(self.error_tracking_dsn.apply(bool))
        exported = {key: self.reference.get_output(key) for key in FACT_OUTPUTS} | {
            IMAGE_API_KEY: pulumi.Output.unsecret(self.image_api_key.apply(lambda key: key is not None))
        }
        self.facts: pulumi.Output[PlatformFacts] = pulumi.Output.all(**exported).apply(self._facts)

    def _facts(self, outputs: Mapping[str, Any]) -> PlatformFacts:
        missing = [key for key in FACT_OUTPUTS if outputs.get(key) is None]
        if not outputs[IMAGE_API_KEY]:
            missing.append(IMAGE_API_KEY)
        if missing:
            raise PlatformStackError(
                f"{PLATFORM_STACK_SETTING}: {self.name} exports no {', '.join(missing)}; "
                "deploy that platform stack (its program exports them) before its tenants"
            )
        return PlatformFacts.from_outputs(outputs)
