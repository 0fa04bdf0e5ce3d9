from tools.offline_plan import PlannedResource

from .plans import resource, violations

POLICY = "workers-dev-off-in-prod-when-routed"
WORKER = "cloudflare:index/worker:Worker"
ROUTE = "cloudflare:index/workersRoute:WorkersRoute"
DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"


def worker(enabled: bool | None, routed_by: str | None = ROUTE) -> list[PlannedResource]:
    subdomain = {} if enabled is None else {"subdomain": {"enabled": enabled, "previewsEnabled": enabled}}
    resources = [resource(WORKER, "api", {"name": "api-prod", **subdomain})]
    if routed_by == ROUTE:
        resources.append(resource(ROUTE, "api-route", {"script": "api-prod", "pattern": "api.example.com/*"}))
    elif routed_by == DOMAIN:
        resources.append(resource(DOMAIN, "api-domain", {"service": "api-prod", "hostname": "api.example.com"}))
    return resources


def test_a_routed_worker_still_on_workers_dev_in_prod_is_a_mandatory_violation() -> None:
    for routed_by in (ROUTE, DOMAIN):
        found = violations(*worker(enabled=True, routed_by=routed_by))
        assert [(v.policy, v.mandatory, v.urn) for v in found] == [(POLICY, True, resource(WORKER, "api").urn)]
        assert found[0].message == "worker api-prod has routes and is still served on workers.dev"


def test_a_routed_worker_with_nothing_turning_workers_dev_off_is_a_violation() -> None:
    found = violations(*worker(enabled=None))
    assert [(v.message, v.urn) for v in found] == [
        ("worker api-prod has routes and nothing turning workers.dev off", resource(WORKER, "api").urn)
    ]


def test_routed_workers_off_workers_dev_and_unrouted_workers_pass() -> None:
    assert violations(*worker(enabled=False)) == []
    assert violations(*worker(enabled=True, routed_by=None)) == []


def test_outside_production_workers_dev_may_stay_on() -> None:
    assert violations(*worker(enabled=True), stack="dev") == []
