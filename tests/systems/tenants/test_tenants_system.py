"""The platform's side of the tenants: the services every tenant shares, whichever tenants exist."""

import pulumi
import pytest

from components.cloudflare.account import CloudflareAccount, CloudflareAccountArgs
from systems.tenants.system import Tenants, TenantsArgs
from systems.worker_common import ErrorTracking
from tools.offline_plan import Plan, evaluate

SCRIPT = "cloudflare:index/worker:Worker"


def build(protect: bool) -> None:
    account = CloudflareAccount(
        "cloudflare",
        CloudflareAccountArgs(
            account_id="0123456789abcdef0123456789abcdef",
            api_token="cf-token",
            api_token_setting="orchestra:cloudflareApiToken",
            workers_dev_subdomain="example",
        ),
    )
    tenants = Tenants(
        "tenants",
        TenantsArgs(
            account=account,
            protect_stateful_resources=protect,
            error_tracking=ErrorTracking(environment=pulumi.get_stack()),
        ),
    )
    pulumi.export("registry", tenants.registry_database)
    pulumi.export("registryId", tenants.registry_database_id)
    pulumi.export("limiter", tenants.shared_rate_limiter)
    pulumi.export("images", tenants.shared_images_bucket)


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return evaluate(lambda: build(request.param == "prod"), stack=request.param)


def test_the_shared_parts_and_no_instance(plan: Plan) -> None:
    shared = plan.one("orchestra:system:Tenants", "tenants")
    assert sorted((r.type, r.name) for r in plan.children_of(shared.urn)) == [
        ("orchestra:cloudflare:D1Database", "tenants-multiagent-system"),
        ("orchestra:cloudflare:R2Bucket", "tenants-images"),
        ("orchestra:cloudflare:Worker", "tenants-rate-limiter"),
    ]
    assert plan.of_type("orchestra:system:TenantInstance") == []


def test_what_tenants_read_of_them(plan: Plan) -> None:
    assert plan.outputs == {
        "registry": f"orchestra-tenants-multiagent-system-{plan.stack}",
        "registryId": "tenants-multiagent-system-id",
        "limiter": f"orchestra-tenants-rate-limiter-{plan.stack}",
        "images": f"orchestra-tenants-images-{plan.stack}",
    }
    assert plan.one(SCRIPT, "tenants-rate-limiter").inputs["name"] == plan.outputs["limiter"]


def test_the_registry_schema_is_migrated_here(plan: Plan) -> None:
    migrations = plan.one("pulumi-python:dynamic/cloudflare:D1Migrations", "tenants-multiagent-system-migrations")
    assert migrations.inputs["migrations"][0]["name"] == "0001_create_instances.sql"


def test_shared_data_is_protected_in_prod_only(plan: Plan) -> None:
    stateful = [
        plan.one("cloudflare:index/d1Database:D1Database", "tenants-multiagent-system"),
        plan.one("cloudflare:index/r2Bucket:R2Bucket", "tenants-images"),
    ]
    expected = plan.stack == "prod"
    assert {(r.protect, r.retain_on_delete) for r in stateful} == {(expected, expected)}
