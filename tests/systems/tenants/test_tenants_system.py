import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.cloudflare.account import CloudflareAccount, CloudflareAccountArgs
from systems.tenants.instances import Instance
from systems.tenants.system import Tenants, TenantsArgs
from systems.worker_common import ErrorTracking
from tools.offline_plan import SECRET, Plan, PlannedResource, evaluate

SCRIPT = "cloudflare:index/workersScript:WorkersScript"
IMAGE_KEY = "image-api-key-never-to-be-seen"

GLOBEX = Instance.model_validate(
    {
        "instance_id": "globex",
        "org_id": "globex",
        "environment": "prod",
        "rate_limits": {"ideogram-v3": {"rpm": 30, "tpm": 60000}, "llama-3": {"rpm": 5, "tpm": 500}},
        "api_keys": ["primary", "ci"],
    }
)
ACME = Instance.model_validate(
    {
        "instance_id": "acme",
        "org_id": "acme",
        "environment": "prod",
        "rate_limits": {"ideogram-v3": {"rpm": 60, "tpm": 120000}},
        "r2_bucket": "acme-generated-images",
        "dedicated_rate_limiter": True,
        "api_keys": ["primary"],
    }
)


DSN = "https://" + "5e" * 16 + "@o1.ingest.sentry.io/4500000000000001"


def build(instances: Sequence[Instance], protect: bool) -> None:
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
            instances=instances,
            protect_stateful_resources=protect,
            image_api_url="https://api.ideogram.ai/v1/ideogram-v3/generate",
            image_api_key=IMAGE_KEY,
            image_model="ideogram-v3",
            # prod reports to a Sentry project; dev names none.
            error_tracking=ErrorTracking(
                environment=pulumi.get_stack(), dsn=pulumi.Output.secret(DSN) if protect else None
            ),
        ),
    )
    pulumi.export("registry", tenants.registry_database)
    pulumi.export("keys", {name: instance.api_keys for name, instance in tenants.instances.items()})
    pulumi.export("urls", {name: instance.image_gen_url for name, instance in tenants.instances.items()})


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return evaluate(lambda: build([GLOBEX, ACME], request.param == "prod"), stack=request.param)


def children(plan: Plan, type_: str, name: str) -> list[tuple[str, str]]:
    return sorted((r.type, r.name) for r in plan.children_of(plan.one(type_, name).urn))


def bindings(plan: Plan, script: str) -> dict[str, dict[str, Any]]:
    return {binding["name"]: binding for binding in plan.one(SCRIPT, script).inputs["bindings"]}


def test_shared_parts_and_one_component_per_instance(plan: Plan) -> None:
    assert children(plan, "orchestra:system:Tenants", "tenants") == [
        ("orchestra:cloudflare:D1Database", "tenants-multiagent-system"),
        ("orchestra:cloudflare:R2Bucket", "tenants-images"),
        ("orchestra:cloudflare:Worker", "tenants-rate-limiter"),
        ("orchestra:cloudflare:Worker", "tenants-rate-limiter-acme"),
        ("orchestra:system:TenantInstance", "tenants-acme"),
        ("orchestra:system:TenantInstance", "tenants-globex"),
    ]
    assert plan.outputs["registry"] == f"orchestra-tenants-multiagent-system-{plan.stack}"


def test_an_instance_has_its_database_workers_keys_and_registry_row(plan: Plan) -> None:
    assert children(plan, "orchestra:system:TenantInstance", "tenants-globex") == [
        ("orchestra:cloudflare:D1Database", "tenants-globex-config"),
        ("orchestra:cloudflare:Worker", "tenants-globex-config-service"),
        ("orchestra:cloudflare:Worker", "tenants-globex-image-gen"),
        ("pulumi-python:dynamic/cloudflare:D1Row", "tenants-globex-registry-entry"),
        ("random:index/randomPassword:RandomPassword", "tenants-globex-api-key-ci"),
        ("random:index/randomPassword:RandomPassword", "tenants-globex-api-key-primary"),
    ]
    acme = children(plan, "orchestra:system:TenantInstance", "tenants-acme")
    assert ("orchestra:cloudflare:R2Bucket", "tenants-acme-images") in acme


def test_workers_carry_the_names_clients_know(plan: Plan) -> None:
    names = {r.name: r.inputs["scriptName"] for r in plan.of_type(SCRIPT)}
    assert names == {
        "tenants-globex-config-service": "config-service-globex",
        "tenants-globex-image-gen": "image-gen-globex",
        "tenants-acme-config-service": "config-service-acme",
        "tenants-acme-image-gen": "image-gen-acme",
        # Served on no URL, so known to no client: named by the naming function.
        "tenants-rate-limiter-acme": f"orchestra-tenants-rate-limiter-acme-{plan.stack}",
        "tenants-rate-limiter": f"orchestra-tenants-rate-limiter-{plan.stack}",
    }
    assert plan.outputs["urls"] == {
        "globex": "https://image-gen-globex.example.workers.dev",
        "acme": "https://image-gen-acme.example.workers.dev",
    }


@pytest.mark.parametrize(
    ("script", "main_module"),
    [
        ("tenants-globex-config-service", "tenants/config_service.js"),
        ("tenants-globex-image-gen", "tenants/image_gen.js"),
        ("tenants-rate-limiter", "tenants/rate_limiter.js"),
    ],
)
def test_scripts_upload_bundled_with_the_modules_they_share(plan: Plan, script: str, main_module: str) -> None:
    inputs = plan.one(SCRIPT, script).inputs
    assert inputs["mainModule"] == main_module
    assert "files" not in inputs
    bundle = Path(inputs["contentFile"]).read_text()
    assert "// systems/worker_common/http.js" in bundle and "// node_modules/@sentry/cloudflare/" in bundle
    assert inputs["compatibilityFlags"] == ["nodejs_compat"]
    # Every worker reports its stack, and its errors only where the stack names a DSN.
    by_name = bindings(plan, script)
    assert by_name["ENVIRONMENT"] == {"name": "ENVIRONMENT", "type": "plain_text", "text": plan.stack}
    if plan.stack == "prod":
        assert by_name["ERROR_TRACKING_DSN"]["text"] == SECRET and DSN not in plan.to_json()
    else:
        assert "ERROR_TRACKING_DSN" not in by_name


def tracking(plan: Plan) -> dict[str, str]:
    """The bindings of error tracking: the stack always, the DSN where the stack names one (prod here)."""
    return {"ENVIRONMENT": "plain_text"} | ({"ERROR_TRACKING_DSN": "secret_text"} if plan.stack == "prod" else {})


def test_config_service_bindings(plan: Plan) -> None:
    config_database = plan.one("cloudflare:index/d1Database:D1Database", "tenants-globex-config")
    assert config_database.inputs["name"] == f"orchestra-tenants-globex-config-{plan.stack}"
    assert {name: b["type"] for name, b in bindings(plan, "tenants-globex-config-service").items()} == {
        "DB": "d1",
        "API_KEYS": "secret_text",
        "INSTANCE_ID": "plain_text",
        "VERSION": "plain_text",
        **tracking(plan),
    }
    assert bindings(plan, "tenants-globex-config-service")["API_KEYS"]["text"] == SECRET


def test_image_gen_bindings(plan: Plan) -> None:
    globex = bindings(plan, "tenants-globex-image-gen")
    assert {name: b["type"] for name, b in globex.items()} == {
        "API_KEYS": "secret_text",
        "IMAGES": "r2_bucket",
        "RATE_LIMITER": "service",
        "INSTANCE_ID": "plain_text",
        "IMAGE_MODEL": "plain_text",
        "RATE_LIMITS": "json",
        "IMAGE_API_URL": "plain_text",
        "UPSTREAM_TIMEOUT_MS": "plain_text",
        "IMAGE_API_KEY": "secret_text",
        "VERSION": "plain_text",
        **tracking(plan),
    }
    assert globex["INSTANCE_ID"]["text"] == "globex"
    assert globex["IMAGE_MODEL"]["text"] == "ideogram-v3"
    assert globex["UPSTREAM_TIMEOUT_MS"]["text"] == "60000"
    assert json.loads(globex["RATE_LIMITS"]["json"]) == {
        "ideogram-v3": {"rpm": 30, "tpm": 60000},
        "llama-3": {"rpm": 5, "tpm": 500},
    }
    assert globex["API_KEYS"]["text"] == SECRET and globex["IMAGE_API_KEY"]["text"] == SECRET
    assert IMAGE_KEY not in plan.to_json() and not plan.unmarked_secrets


def test_shared_or_own_bucket_and_limiter(plan: Plan) -> None:
    globex, acme = bindings(plan, "tenants-globex-image-gen"), bindings(plan, "tenants-acme-image-gen")
    assert globex["IMAGES"]["bucketName"] == f"orchestra-tenants-images-{plan.stack}"
    assert globex["RATE_LIMITER"]["service"] == f"orchestra-tenants-rate-limiter-{plan.stack}"
    assert acme["IMAGES"]["bucketName"] == "acme-generated-images"
    assert acme["RATE_LIMITER"]["service"] == f"orchestra-tenants-rate-limiter-acme-{plan.stack}"


@pytest.mark.parametrize("limiter", ["tenants-rate-limiter", "tenants-rate-limiter-acme"])
def test_rate_limiters_own_their_durable_object_and_serve_no_url(plan: Plan, limiter: str) -> None:
    script = plan.one(SCRIPT, limiter).inputs
    # Offline, nothing reads the live tag: the plan shows what a new script gets.
    assert script["migrations"] == {"newTag": "v1", "steps": [{"newSqliteClasses": ["RateLimiter"]}]}
    migrations = plan.one(
        "pulumi-python:dynamic/cloudflare:DurableObjectMigrations", f"{limiter}-durable-object-migrations"
    )
    assert migrations.inputs["migrations"] == [{"tag": "v1", "new_sqlite_classes": ["RateLimiter"]}]
    assert script["bindings"][0] == {
        "name": "RATE_LIMITER",
        "type": "durable_object_namespace",
        "className": "RateLimiter",
    }
    assert [b["name"] for b in script["bindings"]] == ["RATE_LIMITER", *tracking(plan), "VERSION"]
    subdomain = plan.one("cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain", f"{limiter}-workers-dev")
    assert (subdomain.inputs["enabled"], subdomain.inputs["previewsEnabled"]) == (False, False)


def registry_row(plan: Plan, instance: str) -> PlannedResource:
    return plan.one("pulumi-python:dynamic/cloudflare:D1Row", f"tenants-{instance}-registry-entry")


def test_the_registry_records_each_instance_and_its_urls(plan: Plan) -> None:
    row = registry_row(plan, "globex")
    assert (row.inputs["table"], row.inputs["key_column"], row.inputs["key"]) == ("instances", "instance_id", "globex")
    assert row.inputs["database_id"] == "tenants-multiagent-system-id"
    assert row.inputs["values"] == {
        "org_id": "globex",
        "environment": "prod",
        "config_service_url": "https://config-service-globex.example.workers.dev",
        "image_gen_url": "https://image-gen-globex.example.workers.dev",
        "r2_bucket": f"orchestra-tenants-images-{plan.stack}",
    }
    assert row.inputs["credential_setting"] == "orchestra:cloudflareApiToken"
    assert registry_row(plan, "acme").inputs["values"]["r2_bucket"] == "acme-generated-images"


def test_the_registry_row_is_written_after_the_registry_schema(plan: Plan) -> None:
    migrations = plan.one("pulumi-python:dynamic/cloudflare:D1Migrations", "tenants-multiagent-system-migrations")
    assert migrations.inputs["migrations"][0]["name"] == "0001_create_instances.sql"
    assert migrations.urn in registry_row(plan, "globex").dependencies


def test_api_keys_are_generated_per_name_and_only_output_as_secrets(plan: Plan) -> None:
    keys = [r for r in plan.of_type("random:index/randomPassword:RandomPassword")]
    assert {(r.name, r.inputs["length"], r.inputs["special"]) for r in keys} == {
        ("tenants-globex-api-key-primary", 40, False),
        ("tenants-globex-api-key-ci", 40, False),
        ("tenants-acme-api-key-primary", 40, False),
    }
    assert plan.outputs["keys"] == {"globex": SECRET, "acme": SECRET}


def test_data_is_protected_in_prod_only(plan: Plan) -> None:
    stateful = [
        plan.one("cloudflare:index/d1Database:D1Database", name)
        for name in ("tenants-multiagent-system", "tenants-globex-config", "tenants-acme-config")
    ] + [plan.one("cloudflare:index/r2Bucket:R2Bucket", name) for name in ("tenants-images", "tenants-acme-images")]
    expected = plan.stack == "prod"
    assert {(r.name, r.protect, r.retain_on_delete) for r in stateful} == {
        (r.name, expected, expected) for r in stateful
    }


def test_without_instances_the_shared_parts_stay() -> None:
    plan = evaluate(lambda: build([], protect=True), stack="prod")
    assert children(plan, "orchestra:system:Tenants", "tenants") == [
        ("orchestra:cloudflare:D1Database", "tenants-multiagent-system"),
        ("orchestra:cloudflare:R2Bucket", "tenants-images"),
        ("orchestra:cloudflare:Worker", "tenants-rate-limiter"),
    ]
