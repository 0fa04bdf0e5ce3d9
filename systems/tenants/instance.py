"""One tenant instance: its configuration database, its two workers, its API keys and its registry row."""

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_random as random

from components.cloudflare.account import CloudflareAccount
from components.cloudflare.binding import json_value, plain_text, r2_bucket, secret_text, service
from components.cloudflare.d1 import D1Database, D1DatabaseArgs
from components.cloudflare.r2 import R2Bucket, R2BucketArgs
from components.cloudflare.worker import Worker, WorkerRolloutSettings
from components.providers.d1_row import D1Row
from systems.worker_common import ErrorTracking

from .instances import Instance
from .scripts import CONFIG_SERVICE, IMAGE_GEN, tenant_worker

_HERE = Path(__file__).parent
API_KEY_LENGTH = 40
# How long image-gen waits for each call to the image API and for each image download before
# answering 504: generating an image takes the API tens of seconds.
UPSTREAM_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class TenantInstanceArgs:
    account: CloudflareAccount
    instance: Instance
    registry_database_id: pulumi.Input[str]
    """The platform's `multiagent-system` registry database, whose `instances` table gets this instance's row."""
    shared_images_bucket: pulumi.Input[str]
    """Where generated images go unless the instance names a bucket of its own."""
    rate_limiter: pulumi.Input[str]
    """The script name of the platform's shared rate-limiter, or of the instance's dedicated one."""
    protect_stateful_resources: bool
    image_api_url: str
    image_api_key: pulumi.Input[str]
    image_model: str
    error_tracking: ErrorTracking | None = None
    """Where the instance's workers report unhandled errors; none reports nothing."""
    rollout: WorkerRolloutSettings = field(default_factory=WorkerRolloutSettings)
    """The canary each new version of the instance's workers goes through; by default none."""
    log_sampling_rate: float = 1.0
    """The share of the instance's workers' invocations Workers Logs keeps (0-1]; by default every one."""


class TenantInstance(pulumi.ComponentResource):
    """`config-service-<id>` and `image-gen-<id>`, named as the instance's clients know them,
    sharing the instance's generated API keys."""

    config_service_url: pulumi.Output[str]
    image_gen_url: pulumi.Output[str]
    config_service_version: str
    image_gen_version: str
    """The versions each worker's `/healthz` reports: its uploaded modules' hash."""
    services: dict[str, tuple[pulumi.Output[str], str]]
    """Each of `scripts.TENANT_SERVICES` by its kind: its URL and the version it reports."""
    api_keys: pulumi.Output[dict[str, str]]
    """Key name to key, secret: what the instance's clients send as `X-API-Key`."""

    def __init__(self, name: str, args: TenantInstanceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:system:TenantInstance", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        instance = args.instance
        account = args.account
        protect = args.protect_stateful_resources

        keys = {
            key_name: random.RandomPassword(
                f"{name}-api-key-{key_name}", length=API_KEY_LENGTH, special=False, opts=child
            ).result
            for key_name in instance.api_keys
        }
        self.api_keys = pulumi.Output.secret(pulumi.Output.all(**keys))
        api_keys = secret_text("API_KEYS", pulumi.Output.json_dumps(keys, sort_keys=True))

        config = D1Database(
            f"{name}-config",
            D1DatabaseArgs(account=account, migrations_dir=_HERE / "migrations" / "config", protect=protect),
            child,
        )
        config_service = tenant_worker(
            account,
            f"{name}-{CONFIG_SERVICE.kind}",
            CONFIG_SERVICE.script,
            [config.binding("DB"), api_keys, plain_text("INSTANCE_ID", instance.instance_id)],
            child,
            public_name=CONFIG_SERVICE.public_name(instance.instance_id),
            error_tracking=args.error_tracking,
            rollout=args.rollout,
            log_sampling_rate=args.log_sampling_rate,
        )

        images = (
            R2Bucket(
                f"{name}-images",
                R2BucketArgs(account=account, bucket_name=instance.r2_bucket, protect=protect),
                child,
            ).name
            if instance.r2_bucket
            else pulumi.Output.from_input(args.shared_images_bucket)
        )
        image_gen = tenant_worker(
            account,
            f"{name}-{IMAGE_GEN.kind}",
            IMAGE_GEN.script,
            [
                api_keys,
                r2_bucket("IMAGES", images),
                service("RATE_LIMITER", args.rate_limiter),
                plain_text("INSTANCE_ID", instance.instance_id),
                plain_text("IMAGE_MODEL", args.image_model),
                json_value("RATE_LIMITS", {model: limit.model_dump() for model, limit in instance.rate_limits.items()}),
                plain_text("IMAGE_API_URL", args.image_api_url),
                plain_text("UPSTREAM_TIMEOUT_MS", str(UPSTREAM_TIMEOUT_SECONDS * 1000)),
                secret_text("IMAGE_API_KEY", args.image_api_key),
            ],
            child,
            public_name=IMAGE_GEN.public_name(instance.instance_id),
            error_tracking=args.error_tracking,
            rollout=args.rollout,
            log_sampling_rate=args.log_sampling_rate,
        )

        self.config_service_url = _served(config_service)
        self.image_gen_url = _served(image_gen)
        self.config_service_version = config_service.version
        self.image_gen_version = image_gen.version
        self.services = {
            CONFIG_SERVICE.kind: (self.config_service_url, self.config_service_version),
            IMAGE_GEN.kind: (self.image_gen_url, self.image_gen_version),
        }
        # The platform stack migrates the registry's schema before any tenant stack runs.
        D1Row(
            f"{name}-registry-entry",
            account_id=account.account_id,
            database_id=args.registry_database_id,
            credential_setting=account.api_token_setting,
            table="instances",
            key_column="instance_id",
            key=instance.instance_id,
            values={
                "org_id": instance.org_id,
                "environment": instance.environment,
                "config_service_url": self.config_service_url,
                "image_gen_url": self.image_gen_url,
                "r2_bucket": images,
            },
            opts=child,
        )
        self.register_outputs(
            {
                "config_service_url": self.config_service_url,
                "image_gen_url": self.image_gen_url,
                "api_keys": self.api_keys,
            }
        )


def _served(worker: Worker) -> pulumi.Output[str]:
    if worker.url is None:
        raise ValueError("tenant workers are served on workers.dev: the account's workers_dev_subdomain must be known")
    return worker.url
