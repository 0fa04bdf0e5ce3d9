"""How every tenant worker is uploaded: its script from this directory bundled with the shared
modules, the runtime date the worker tests run with, its version and where its errors go; and the
services each instance gets."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.cloudflare.account import CloudflareAccount
from components.cloudflare.binding import Binding
from components.cloudflare.durable_object_migrations import DurableObjectMigration
from components.cloudflare.worker import Worker, WorkerArgs, WorkerRolloutSettings
from systems.worker_common import COMPATIBILITY_DATE, COMPATIBILITY_FLAGS, MODULES_ROOT, ErrorTracking

_HERE = Path(__file__).parent
# Every tenant worker reports its deployed content hash at `/healthz`.
VERSION_BINDING = "VERSION"


@dataclass(frozen=True)
class TenantService:
    """A service every instance gets: a worker named `<kind>-<instance id>`, as the instance's
    clients know it."""

    kind: str
    script: str
    """Its script, a file of this directory."""
    output_key: str
    """Its URL's key in the `services` output of each tenant stack."""

    def public_name(self, instance_id: str) -> str:
        return f"{self.kind}-{instance_id}"


CONFIG_SERVICE = TenantService("config-service", "config_service.js", "configServiceUrl")
IMAGE_GEN = TenantService("image-gen", "image_gen.js", "imageGenUrl")
TENANT_SERVICES = (CONFIG_SERVICE, IMAGE_GEN)


def tenant_worker(
    account: CloudflareAccount,
    name: str,
    script: str,
    bindings: Sequence[Binding],
    opts: pulumi.ResourceOptions,
    *,
    public_name: str | None = None,
    durable_object_migrations: Sequence[DurableObjectMigration] = (),
    workers_dev: bool = True,
    error_tracking: ErrorTracking | None = None,
    rollout: WorkerRolloutSettings,
    log_sampling_rate: float,
) -> Worker:
    """Worker `name` running `script` (a file of this directory). Its script name, which is also
    its workers.dev host, is `public_name` exactly as written when clients know it by that name,
    else the naming function's `<project>-<name>-<stack>`."""
    return Worker(
        name,
        WorkerArgs(
            account=account,
            main_module=_HERE / script,
            modules_root=MODULES_ROOT,
            bundle=True,
            script_name=public_name,
            compatibility_date=COMPATIBILITY_DATE,
            compatibility_flags=COMPATIBILITY_FLAGS,
            bindings=[*bindings, *(error_tracking.bindings() if error_tracking else [])],
            durable_object_migrations=durable_object_migrations,
            version_binding=VERSION_BINDING,
            workers_dev=workers_dev,
            rollout=rollout,
            log_sampling_rate=log_sampling_rate,
        ),
        opts,
    )
