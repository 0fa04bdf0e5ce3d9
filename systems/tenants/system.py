"""Tenant instances' shared services, declared by the platform stack whether or not any instance
exists: the `multiagent-system` registry database, the rate-limiter worker and the image bucket.

Each instance, from its file in `instances/`, is a stack of its own (the `tenants/` project):
its `TenantInstance`, named `tenants-<instance id>`, and its dedicated rate limiter when it asks
for one, `tenants-rate-limiter-<instance id>`, the names they had when one stack held them all.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from components.cloudflare.account import CloudflareAccount
from components.cloudflare.binding import durable_object_namespace
from components.cloudflare.d1 import D1Database, D1DatabaseArgs
from components.cloudflare.durable_object_migrations import DurableObjectMigration
from components.cloudflare.r2 import R2Bucket, R2BucketArgs
from components.cloudflare.worker import Worker, WorkerRolloutSettings
from systems.worker_common import ErrorTracking

from .scripts import tenant_worker

_HERE = Path(__file__).parent
RATE_LIMITER_CLASS = "RateLimiter"
# The rate limiter's Durable Object history, oldest first. Steps are only appended: a new class,
# a rename or a deletion is a new step with the next tag (see the README).
RATE_LIMITER_MIGRATIONS = (DurableObjectMigration("v1", new_sqlite_classes=[RATE_LIMITER_CLASS]),)


@dataclass(frozen=True)
class TenantsArgs:
    account: CloudflareAccount
    protect_stateful_resources: bool
    error_tracking: ErrorTracking | None = None
    """Where the shared rate limiter reports unhandled errors; none reports nothing."""
    rollout: WorkerRolloutSettings = field(default_factory=WorkerRolloutSettings)
    """The canary each new version of the shared rate limiter goes through; by default none."""
    log_sampling_rate: float = 1.0
    """The share of the shared rate limiter's invocations Workers Logs keeps (0-1]; by default every one."""


class Tenants(pulumi.ComponentResource):
    """What the platform stack holds for every tenant, whichever tenants exist."""

    registry_database: pulumi.Output[str]
    registry_database_id: pulumi.Output[str]
    shared_rate_limiter: pulumi.Output[str]
    """The shared rate limiter's script name, which tenants' image-gen workers bind to."""
    shared_images_bucket: pulumi.Output[str]

    def __init__(self, name: str, args: TenantsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:system:Tenants", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        protect = args.protect_stateful_resources

        registry = D1Database(
            f"{name}-multiagent-system",
            D1DatabaseArgs(account=args.account, migrations_dir=_HERE / "migrations" / "registry", protect=protect),
            child,
        )
        shared_images = R2Bucket(f"{name}-images", R2BucketArgs(account=args.account, protect=protect), child)
        shared_limiter = rate_limiter(
            args.account,
            f"{name}-rate-limiter",
            child,
            error_tracking=args.error_tracking,
            rollout=args.rollout,
            log_sampling_rate=args.log_sampling_rate,
        )
        self.registry_database = registry.name
        self.registry_database_id = registry.id
        self.shared_rate_limiter = shared_limiter.script_name
        self.shared_images_bucket = shared_images.name
        self.register_outputs(
            {
                "registry_database": self.registry_database,
                "registry_database_id": self.registry_database_id,
                "shared_rate_limiter": self.shared_rate_limiter,
                "shared_images_bucket": self.shared_images_bucket,
            }
        )


def rate_limiter(
    account: CloudflareAccount,
    name: str,
    opts: pulumi.ResourceOptions,
    *,
    error_tracking: ErrorTracking | None = None,
    rollout: WorkerRolloutSettings,
    log_sampling_rate: float,
) -> Worker:
    """The rate-limiter worker and its Durable Object class. It has no authentication of its own,
    so it is served on no URL: only workers given a service binding to it reach it, and no client
    needs to know its name."""
    return tenant_worker(
        account,
        name,
        "rate_limiter.js",
        [durable_object_namespace("RATE_LIMITER", RATE_LIMITER_CLASS)],
        opts,
        durable_object_migrations=RATE_LIMITER_MIGRATIONS,
        workers_dev=False,
        error_tracking=error_tracking,
        rollout=rollout,
        log_sampling_rate=log_sampling_rate,
    )
