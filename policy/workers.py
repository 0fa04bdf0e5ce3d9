"""In production (the guarded stacks), a worker served on routes or custom domains is not also
reachable on workers.dev, where the zone's protections (WAF, access rules, rate limits) do not apply."""

from collections.abc import Mapping

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from .stack import is_guarded

_WORKER = "cloudflare:index/worker:Worker"
# Resource type → the input naming the script it sends traffic to.
_ROUTED_BY = {
    "cloudflare:index/workersRoute:WorkersRoute": "script",
    "cloudflare:index/workersCustomDomain:WorkersCustomDomain": "service",
}


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    if not is_guarded():
        return
    routed = {r.props.get(_ROUTED_BY[r.resource_type]) for r in args.resources if r.resource_type in _ROUTED_BY}
    for worker in (r for r in args.resources if r.resource_type == _WORKER):
        name = worker.props.get("name")
        if name is None or name not in routed:
            continue
        subdomain = worker.props.get("subdomain")
        if not isinstance(subdomain, Mapping) or "enabled" not in subdomain:
            # Cloudflare turns workers.dev on for a new script unless told otherwise.
            report_violation(f"worker {name} has routes and nothing turning workers.dev off", worker.urn)
        elif subdomain.get("enabled") or subdomain.get("previewsEnabled"):
            report_violation(f"worker {name} has routes and is still served on workers.dev", worker.urn)


WORKERS_DEV_OFF_WHEN_ROUTED = StackValidationPolicy(
    name="workers-dev-off-in-prod-when-routed",
    description="In production, a worker with routes or custom domains is not served on workers.dev.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
)
