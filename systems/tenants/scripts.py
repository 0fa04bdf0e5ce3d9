"""How every tenant worker is uploaded: its script from this directory, the shared HTTP module,
the runtime date the worker tests run with, and its version."""

from collections.abc import Sequence
from pathlib import Path

import pulumi

from components.cloudflare.account import CloudflareAccount
from components.cloudflare.binding import Binding
from components.cloudflare.durable_object_migrations import DurableObjectMigration
from components.cloudflare.worker import Worker, WorkerArgs
from systems.worker_common import HTTP_MODULE, MODULES_ROOT

_HERE = Path(__file__).parent
COMPATIBILITY_DATE = "2026-04-01"
# Every tenant worker reports its deployed content hash at `/healthz`.
VERSION_BINDING = "VERSION"


def tenant_worker(
    account: CloudflareAccount,
    name: str,
    script: str,
    bindings: Sequence[Binding],
    opts: pulumi.ResourceOptions,
    *,
    by_hand: bool,
    durable_object_migrations: Sequence[DurableObjectMigration] = (),
    workers_dev: bool = True,
) -> Worker:
    """Worker `name` running `script` (a file of this directory); its script name is `name` as
    written when `by_hand`, else the naming function's."""
    return Worker(
        name,
        WorkerArgs(
            account=account,
            main_module=_HERE / script,
            modules=[HTTP_MODULE],
            modules_root=MODULES_ROOT,
            script_name=name if by_hand else None,
            compatibility_date=COMPATIBILITY_DATE,
            bindings=bindings,
            durable_object_migrations=durable_object_migrations,
            version_binding=VERSION_BINDING,
            workers_dev=workers_dev,
        ),
        opts,
    )
