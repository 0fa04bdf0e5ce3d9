import hashlib
from pathlib import Path

import pulumi
import pytest

from components.cloudflare.account import CloudflareAccount, CloudflareAccountArgs
from systems.ai_worker.system import AiWorker, AiWorkerArgs
from systems.worker_common import MODULES_ROOT as SYSTEMS
from systems.worker_common import ErrorTracking
from tools.offline_plan import SECRET, Plan, evaluate

DSN = "https://" + "5e" * 16 + "@o1.ingest.sentry.io/4500000000000001"


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
    AiWorker(
        "ai-worker",
        AiWorkerArgs(
            account=account,
            protect_stateful_resources=protect,
            allowed_origins="https://app.example.com",
            login_link_url="https://app.example.com/sign-in",
            email_from="Orchestra <login@example.com>",
            email_api_url="https://api.resend.com/emails",
            email_api_key=pulumi.Output.secret("email-key-value"),
            chat_requests_per_minute=20,
            login_requests_per_minute=5,
            login_client_requests_per_minute=12,
            rate_limit_namespace_base=1000,
            # prod reports to a Sentry project; dev names none.
            error_tracking=ErrorTracking(
                environment=pulumi.get_stack(), dsn=pulumi.Output.secret(DSN) if protect else None
            ),
        ),
    )


def bindings_by_name(plan: Plan) -> dict[str, dict]:
    script = plan.one("cloudflare:index/workerVersion:WorkerVersion", "ai-worker-version").inputs
    return {binding["name"]: binding for binding in script["bindings"]}


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return evaluate(lambda: build(request.param == "prod"), stack=request.param)


def test_children(plan: Plan) -> None:
    system = plan.one("orchestra:system:AiWorker", "ai-worker")
    assert sorted((r.type, r.name) for r in plan.children_of(system.urn)) == [
        ("orchestra:cloudflare:D1Database", "ai-worker-db"),
        ("orchestra:cloudflare:KvNamespace", "ai-worker-auth"),
        ("orchestra:cloudflare:VectorizeIndex", "ai-worker-knowledge"),
        ("orchestra:cloudflare:Worker", "ai-worker"),
        ("random:index/randomPassword:RandomPassword", "ai-worker-admin-token"),
    ]


def test_bindings_are_exactly_what_the_script_reads(plan: Plan) -> None:
    script = plan.one("cloudflare:index/workerVersion:WorkerVersion", "ai-worker-version").inputs
    assert script["mainModule"] == "ai_worker/worker.js"
    bindings = script["bindings"]
    assert bindings != SECRET, "bindings are recorded one by one; only secret values are hidden"
    by_name = {binding["name"]: binding for binding in bindings}
    assert {name: binding["type"] for name, binding in by_name.items()} == {
        "DB": "d1",
        "AUTH_KV": "kv_namespace",
        "KNOWLEDGE_INDEX": "vectorize",
        "AI": "ai",
        "CHAT_RATE_LIMITER": "ratelimit",
        "LOGIN_ADDRESS_RATE_LIMITER": "ratelimit",
        "LOGIN_CLIENT_RATE_LIMITER": "ratelimit",
        "RATE_LIMIT_PERIOD_SECONDS": "plain_text",
        "UPSTREAM_TIMEOUT_MS": "plain_text",
        "ALLOWED_ORIGINS": "plain_text",
        "LOGIN_LINK_URL": "plain_text",
        "EMAIL_FROM": "plain_text",
        "EMAIL_API_URL": "plain_text",
        "EMAIL_API_KEY": "secret_text",
        "ADMIN_TOKEN": "secret_text",
        "VERSION": "plain_text",
        "ENVIRONMENT": "plain_text",
        **({"ERROR_TRACKING_DSN": "secret_text"} if plan.stack == "prod" else {}),
    }
    assert by_name["EMAIL_API_KEY"]["text"] == SECRET and by_name["ADMIN_TOKEN"]["text"] == SECRET
    assert by_name["ENVIRONMENT"]["text"] == plan.stack
    assert "email-key-value" not in plan.to_json()
    if plan.stack == "prod":
        assert by_name["ERROR_TRACKING_DSN"]["text"] == SECRET
        assert DSN not in plan.to_json()


def test_each_limiter_has_its_own_namespace_and_limit(plan: Plan) -> None:
    by_name = bindings_by_name(plan)
    limiters = {
        name: (b["namespaceId"], b["simple"]["limit"]) for name, b in by_name.items() if b["type"] == "ratelimit"
    }
    assert limiters == {
        "CHAT_RATE_LIMITER": ("1000", 20),
        "LOGIN_ADDRESS_RATE_LIMITER": ("1001", 5),
        "LOGIN_CLIENT_RATE_LIMITER": ("1002", 12),
    }


def test_the_worker_reads_the_period_every_limiter_counts_over(plan: Plan) -> None:
    by_name = bindings_by_name(plan)
    periods = {b["simple"]["period"] for b in by_name.values() if b["type"] == "ratelimit"}
    assert periods == {int(by_name["RATE_LIMIT_PERIOD_SECONDS"]["text"])} == {60}


def test_the_email_api_gets_a_bounded_time_to_answer(plan: Plan) -> None:
    by_name = bindings_by_name(plan)
    assert by_name["UPSTREAM_TIMEOUT_MS"]["text"] == "10000"


def test_knowledge_base_ships_with_the_script(plan: Plan) -> None:
    script = plan.one("cloudflare:index/workerVersion:WorkerVersion", "ai-worker-version").inputs
    # Named relative to systems/, as the script imports it ("./knowledge_base.json"); the shared
    # modules and Sentry's SDK are in the main module's bundle, which needs nodejs_compat.
    main, *modules = script["modules"]
    assert [module["name"] for module in modules] == ["ai_worker/knowledge_base.json"]
    bundle = Path(main["contentFile"]).read_text()
    assert bundle.count("// systems/worker_common/http.js") == 1 and "// node_modules/@sentry/cloudflare/" in bundle
    assert 'from "./knowledge_base.json"' in bundle
    assert main["contentSha256"] == hashlib.sha256(Path(main["contentFile"]).read_bytes()).hexdigest()
    assert script["compatibilityFlags"] == ["nodejs_compat"]


def test_the_version_the_script_reports_covers_the_knowledge_base_and_the_shared_module(plan: Plan) -> None:
    script = plan.one("cloudflare:index/workerVersion:WorkerVersion", "ai-worker-version").inputs
    [version] = [binding["text"] for binding in script["bindings"] if binding["name"] == "VERSION"]
    modules = {module["name"]: module for module in script["modules"]}
    listing = [
        f"{part}\t{module['contentType']}\t{module['contentSha256']}"
        for part, module in [("ai_worker/worker.js", modules.pop("ai_worker/worker.js")), *sorted(modules.items())]
    ]
    assert version == hashlib.sha256("\n".join(listing).encode()).hexdigest()
    assert (
        modules["ai_worker/knowledge_base.json"]["contentSha256"]
        == hashlib.sha256((SYSTEMS / "ai_worker" / "knowledge_base.json").read_bytes()).hexdigest()
    )


def test_data_is_protected_in_prod_only(plan: Plan) -> None:
    protected = plan.stack == "prod"
    for type_, name in [
        ("cloudflare:index/d1Database:D1Database", "ai-worker-db"),
        ("cloudflare:index/workersKvNamespace:WorkersKvNamespace", "ai-worker-auth"),
        ("pulumi-python:dynamic/cloudflare:VectorizeIndex", "ai-worker-knowledge"),
    ]:
        resource = plan.one(type_, name)
        assert (resource.protect, resource.retain_on_delete) == (protected, protected), name
    assert (
        plan.one("pulumi-python:dynamic/cloudflare:VectorizeIndex", "ai-worker-knowledge").inputs["dimensions"] == 768
    )
