"""Every identity a stack's state will hold: the URN of each resource (its type chain and name),
kept sorted in a committed file per stack, `urns/<stack>.txt`.

Pulumi knows a resource by its URN. A change to a logical name, a type or a parent is, to a
deployed stack, a deletion and a creation, unless the resource is given an `alias` naming its
old URN. The committed file makes every such change visible in review: the tests fail until
the file is regenerated in the same commit.
"""

from pathlib import Path

from .plan import Plan

URNS_DIRECTORY = "urns"
REGENERATE = "python -m tools.offline_plan urns --stack {stack} --write"
TENANT_REGENERATE = (
    "python -m tools.offline_plan --project-dir tenants --reference organization/orchestra/{platform}=. "
    "--secret-env CLOUDFLARE_API_TOKEN urns --stack {stack} --write"
)
"""A tenant stack's, from the tenant project (`tenants/urns/<stack>.txt`), reading its platform stack's plan."""


def urn_lines(plan: Plan) -> str:
    """The plan's URNs, one a line, sorted."""
    return "".join(f"{urn}\n" for urn in sorted(resource.urn for resource in plan.resources))


def urns_file(project_dir: Path, stack: str) -> Path:
    return project_dir / URNS_DIRECTORY / f"{stack}.txt"
