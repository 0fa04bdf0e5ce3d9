"""Each tenant stack, planned offline from its instance file and its platform stack's exports:
only that tenant's resources, named as when one stack held them all."""

import json
from typing import Any

import pytest

from tests.systems.tenants.support import DSN, plan_tenant
from tools.offline_plan import PLACEHOLDER_PREFIX, SECRET, Plan, PlannedResource

SCRIPT = "cloudflare:index/worker:Worker"
VERSION = "cloudflare:index/workerVersion:WorkerVersion"
D1 = "cloudflare:index/d1Database:D1Database"
R2 = "cloudflare:index/r2Bucket:R2Bucket"
ROW = "pulumi-python:dynamic/cloudflare:D1Row"


@pytest.fixture(scope="module")
def acme() -> Plan:
    """prod, with its own bucket, its own rate limiter, two keys, one of them delivered to GitHub."""
    return plan_tenant("acme")


@pytest.fixture(scope="module")
def globex() -> Plan:
    """prod, with the shared bucket and limiter."""
    return plan_tenant("globex")


@pytest.fixture(scope="module")
def acme_dev() -> Plan:
    return plan_tenant("acme-dev")


def bindings(plan: Plan, script: str) -> dict[str, dict[str, Any]]:
    return {binding["name"]: binding for binding in plan.one(VERSION, f"{script}-version").inputs["bindings"]}


def children(plan: Plan, type_: str, name: str) -> list[tuple[str, str]]:
    return sorted((r.type, r.name) for r in plan.children_of(plan.one(type_, name).urn))


def test_a_tenant_stack_holds_that_tenant_alone(globex: Plan) -> None:
    roots = sorted((r.type, r.name) for r in globex.resources if r.parent == globex.stack_urn or r.parent is None)
    assert roots == [
        ("orchestra:cloudflare:Account", "cloudflare"),
        ("orchestra:system:TenantInstance", "tenants-globex"),
        ("pulumi:pulumi:StackReference", "platform-prod"),
    ]
    assert globex.one("pulumi:pulumi:StackReference", "platform-prod").inputs["name"] == "organization/orchestra/prod"
    assert children(globex, "orchestra:system:TenantInstance", "tenants-globex") == [
        ("orchestra:cloudflare:D1Database", "tenants-globex-config"),
        ("orchestra:cloudflare:Worker", "tenants-globex-config-service"),
        ("orchestra:cloudflare:Worker", "tenants-globex-image-gen"),
        (ROW, "tenants-globex-registry-entry"),
        ("random:index/randomPassword:RandomPassword", "tenants-globex-api-key-primary"),
    ]
    assert not any("acme" in resource.urn for resource in globex.resources)


def test_the_urns_are_the_old_ones_in_the_tenants_own_stack(globex: Plan) -> None:
    # What `pulumi state move` gives a moved TenantInstance: the old chain below `Tenants`, at the root.
    database = globex.one(D1, "tenants-globex-config")
    assert database.urn == (
        "urn:pulumi:globex::orchestra-tenant::orchestra:system:TenantInstance$orchestra:cloudflare:D1Database"
        "$cloudflare:index/d1Database:D1Database::tenants-globex-config"
    )


def test_physical_names_are_the_ones_the_platform_stack_gave(acme: Plan, acme_dev: Plan) -> None:
    assert acme.one(D1, "tenants-acme-config").inputs["name"] == "orchestra-tenants-acme-config-prod"
    assert acme_dev.one(D1, "tenants-acme-dev-config").inputs["name"] == "orchestra-tenants-acme-dev-config-dev"
    assert {r.name: r.inputs["name"] for r in acme.of_type(SCRIPT)} == {
        "tenants-acme-config-service": "config-service-acme",
        "tenants-acme-image-gen": "image-gen-acme",
        # Served on no URL, so known to no client: named by the naming function, as before.
        "tenants-rate-limiter-acme": "orchestra-tenants-rate-limiter-acme-prod",
    }


def test_shared_or_own_bucket_and_limiter(acme: Plan, globex: Plan) -> None:
    shared, own = bindings(globex, "tenants-globex-image-gen"), bindings(acme, "tenants-acme-image-gen")
    assert shared["IMAGES"]["bucketName"] == "orchestra-tenants-images-prod"
    assert shared["RATE_LIMITER"]["service"] == "orchestra-tenants-rate-limiter-prod"
    assert own["IMAGES"]["bucketName"] == "acme-generated-images"
    assert own["RATE_LIMITER"]["service"] == "orchestra-tenants-rate-limiter-acme-prod"
    assert globex.of_type(R2) == []
    limiter = acme.one("orchestra:cloudflare:Worker", "tenants-rate-limiter-acme")
    assert limiter.parent == acme.stack_urn


def test_image_gen_bindings(globex: Plan) -> None:
    image_gen = bindings(globex, "tenants-globex-image-gen")
    assert {name: b["type"] for name, b in image_gen.items()} == {
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
        "ENVIRONMENT": "plain_text",
        "ERROR_TRACKING_DSN": "secret_text",
    }
    assert image_gen["IMAGE_API_URL"]["text"] == "https://api.ideogram.ai/v1/ideogram-v3/generate"
    assert json.loads(image_gen["RATE_LIMITS"]["json"]) == {"ideogram-v3": {"rpm": 30, "tpm": 60000}}
    assert image_gen["ENVIRONMENT"]["text"] == "prod"
    assert {image_gen[name]["text"] for name in ("API_KEYS", "IMAGE_API_KEY", "ERROR_TRACKING_DSN")} == {SECRET}


def test_secrets_read_from_the_platform_stay_secret(acme: Plan, globex: Plan, acme_dev: Plan) -> None:
    for plan in (acme, globex, acme_dev):
        text = plan.to_json()
        assert DSN not in text and PLACEHOLDER_PREFIX not in text
        assert plan.unmarked_secrets == ()
    provider = acme.one("pulumi:providers:cloudflare", "cloudflare")
    assert provider.inputs["apiToken"] == SECRET


def test_without_a_dsn_the_workers_report_nothing(acme_dev: Plan) -> None:
    assert "ERROR_TRACKING_DSN" not in bindings(acme_dev, "tenants-acme-dev-image-gen")


def registry_row(plan: Plan, instance: str) -> PlannedResource:
    return plan.one(ROW, f"tenants-{instance}-registry-entry")


def test_the_tenant_writes_its_own_registry_row_in_the_platforms_registry(acme: Plan, globex: Plan) -> None:
    row = registry_row(globex, "globex")
    assert row.inputs["database_id"] == "5f1d3c2b-5a6e-4f70-8a9b-0c1d2e3f4a5b"
    assert (row.inputs["table"], row.inputs["key"]) == ("instances", "globex")
    assert row.inputs["values"] == {
        "org_id": "globex",
        "environment": "prod",
        "config_service_url": "https://config-service-globex.example.workers.dev",
        "image_gen_url": "https://image-gen-globex.example.workers.dev",
        "r2_bucket": "orchestra-tenants-images-prod",
    }
    assert registry_row(acme, "acme").inputs["values"]["r2_bucket"] == "acme-generated-images"


def test_dynamic_providers_read_the_token_of_the_command(acme: Plan) -> None:
    # No tenant stack keeps a copy of the token in its configuration: the fleet runs each with it.
    dynamic = [r for r in acme.resources if r.type.startswith("pulumi-python:dynamic/cloudflare:")]
    # The registry row, the D1 migrations and the limiter's Durable Object migrations, and each worker's rollout.
    assert len(dynamic) == 6
    assert len([r for r in dynamic if r.type == "pulumi-python:dynamic/cloudflare:WorkerRollout"]) == 3
    assert {r.inputs["credential_setting"] for r in dynamic} == {"$CLOUDFLARE_API_TOKEN"}


def test_prod_data_is_protected_and_retained(acme: Plan, globex: Plan, acme_dev: Plan) -> None:
    stateful = [*acme.of_type(D1), *acme.of_type(R2), *globex.of_type(D1)]
    assert len(stateful) == 3
    assert {(r.protect, r.retain_on_delete) for r in stateful} == {(True, True)}
    assert {(r.protect, r.retain_on_delete) for r in acme_dev.of_type(D1)} == {(False, False)}


def test_outputs_are_the_tenants_services_keys_and_health_urls(acme: Plan) -> None:
    assert {key: value for key, value in acme.outputs.items() if key != "serviceVersions"} == {
        "apiKeys": SECRET,
        "services": {
            "configServiceUrl": "https://config-service-acme.example.workers.dev",
            "imageGenUrl": "https://image-gen-acme.example.workers.dev",
        },
        "healthUrls": {
            "config-service-acme": "https://config-service-acme.example.workers.dev/healthz",
            "image-gen-acme": "https://image-gen-acme.example.workers.dev/healthz",
        },
    }
    # The version each `/healthz` must report after this deploy: what its worker is given.
    assert acme.outputs["serviceVersions"] == {
        f"{kind}-acme": bindings(acme, f"tenants-acme-{kind}")["VERSION"]["text"]
        for kind in ("config-service", "image-gen")
    }


def test_the_delivery_files_secret_of_its_key_is_set_by_its_own_stack(acme: Plan, globex: Plan) -> None:
    [secret] = acme.of_type("github:index/actionsSecret:ActionsSecret")
    assert (secret.inputs["repository"], secret.inputs["secretName"]) == ("multiagent-workers", "TEST_API_KEY")
    assert secret.inputs["value"] == SECRET
    assert globex.of_type("github:index/actionsSecret:ActionsSecret") == []
    assert globex.of_type("pulumi:providers:github") == []
