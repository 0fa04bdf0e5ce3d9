"""One tenant stack: the instance file named by the stack (`instances/<stack>.yaml`), declared
from what its platform stack exports. It declares only that tenant: its workers, its D1 database,
its bucket if it has one, its dedicated rate limiter if it asks for one, its registry row, and the
GitHub secrets the delivery file fills with its keys."""

import sys
from pathlib import Path

import pulumi

# The tenant program shares the platform's modules (components/, systems/): the repository root.
REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

from systems.tenants.tenant_stack import declare_tenant_stack  # noqa: E402 - after the root is importable

declare_tenant_stack(REPOSITORY, Path(__file__).resolve().parent, pulumi.get_stack())
