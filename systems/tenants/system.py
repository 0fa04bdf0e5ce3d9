"""Tenant instances: the registry, the shared services, and each instance's own workers.

Shared by every instance of the stack, and declared whether or not any
instance exists (so adding the first or removing the last instance touches
only that instance): the `multiagent-system` registry database, the
rate-limiter worker and the image bucket. Each instance, from its file in
`instances/`, gets a `TenantInstance` named `<tenants>-<instance id>`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.cloudflare.account import CloudflareAccount
from components.cloudflare.binding import durable_object_namespace
from components.cloudflare.d1 import D1Database, D1DatabaseArgs
from components.cloudflare.durable_object_migrations import DurableObjectMigration
from components.cloudflare.r2 import R2Bucket, R2BucketArgs
from components.cloudflare.worker import Worker
from systems.worker_common import ErrorTracking

from .instance import TenantInstance, TenantInstanceArgs
from .instances import Instance
from .scripts import tenant_worker

_HERE = Path(__file__).parent
RATE_LIMITER_CLASS = "RateLimiter"
# The rate limiter's Durable Object history, oldest first. Steps are only appended: a new class,
# a rename or a deletion is a new step with the next tag (see the README).
RATE_LIMITER_MIGRATIONS = (DurableObjectMigration("v1", new_sqlite_classes=[RATE_LIMITER_CLASS]),)


@dataclass(frozen=True)
class TenantsArgs:
    account: CloudflareAccount
    instances: Sequence[Instance]
    """The instances this stack deploys (`load_stack_instances`)."""
    protect_stateful_resources: bool
    image_api_url: str
    image_api_key: pulumi.Input[str]
    image_model: str
    """The model under which each instance's rate limits for image generation are found."""
    error_tracking: ErrorTracking | None = None
    """Where the tenant workers report unhandled errors; none reports nothing."""


class Tenants(pulumi.ComponentResource):
    registry_database: pulumi.Output[str]
    instances: dict[str, TenantInstance]

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
        shared_limiter = rate_limiter(args.account, f"{name}-rate-limiter", child, error_tracking=args.error_tracking)

        self.instances = {}
        for instance in args.instances:
            dedicated_limiter = (
                rate_limiter(
                    args.account,
                    f"{name}-rate-limiter-{instance.instance_id}",
                    child,
                    error_tracking=args.error_tracking,
                )
                if instance.dedicated_rate_limiter
                else None
            )
            self.instances[instance.instance_id] = TenantInstance(
                f"{name}-{instance.instance_id}",
                TenantInstanceArgs(
                    account=args.account,
                    instance=instance,
                    registry=registry,
                    shared_images=shared_images,
                    rate_limiter=dedicated_limiter or shared_limiter,
                    protect_stateful_resources=protect,
                    image_api_url=args.image_api_url,
                    image_api_key=args.image_api_key,
                    image_model=args.image_model,
                    error_tracking=args.error_tracking,
                ),
                child,
            )
        self.registry_database = registry.name
        self.register_outputs({"registry_database": self.registry_database})


def rate_limiter(
    account: CloudflareAccount,
    name: str,
    opts: pulumi.ResourceOptions,
    *,
    error_tracking: ErrorTracking | None = None,
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
    )
