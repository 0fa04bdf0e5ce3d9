import inspect
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare
import pytest

from components.cloudflare import binding
from components.cloudflare.d1 import D1Database, D1DatabaseArgs
from components.cloudflare.durable_object_migrations import DurableObjectMigration
from components.cloudflare.kv import KvNamespace, KvNamespaceArgs
from components.cloudflare.r2 import R2Bucket, R2BucketArgs
from components.cloudflare.vectorize import VectorizeIndex, VectorizeIndexArgs
from components.cloudflare.worker import Worker, WorkerArgs
from tools.offline_plan import SECRET, Plan, evaluate

from .blocks import account

SCRIPT = "export default { fetch() { return new Response('ok'); } };\n"
VERSION = "cloudflare:index/workerVersion:WorkerVersion"


@pytest.fixture
def main_module(tmp_path: Path) -> Path:
    path = tmp_path / "worker.js"
    path.write_text(SCRIPT)
    return path


# What each kind of binding sets: every field Cloudflare answers a read of that kind with, so a
# refreshed script compares equal to the program's (a service binding is read back with its
# environment). Durable Object namespaces are listed for the external kind; the own kind omits script_name.
FIELDS = {
    "d1": {"name", "type", "id"},
    "kv_namespace": {"name", "type", "namespace_id"},
    "r2_bucket": {"name", "type", "bucket_name"},
    "vectorize": {"name", "type", "index_name"},
    "ai": {"name", "type"},
    "plain_text": {"name", "type", "text"},
    "json": {"name", "type", "json"},
    "secret_text": {"name", "type", "text"},
    "ratelimit": {"name", "type", "namespace_id", "simple"},
    "service": {"name", "type", "service", "environment"},
    "durable_object_namespace": {"name", "type", "class_name", "script_name"},
}


def planned_bindings(main_module: Path) -> Plan:
    def program() -> None:
        cloudflare = account()
        database = D1Database("db", D1DatabaseArgs(cloudflare, migrations_dir=None))
        sessions = KvNamespace("sessions", KvNamespaceArgs(cloudflare))
        images = R2Bucket("images", R2BucketArgs(cloudflare))
        knowledge = VectorizeIndex("knowledge", VectorizeIndexArgs(cloudflare, dimensions=768))
        limiter = Worker(
            "limiter",
            WorkerArgs(
                cloudflare,
                main_module,
                "2025-06-01",
                durable_object_migrations=[DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"])],
                bindings=[binding.durable_object_namespace("LIMITER", "RateLimiter")],
            ),
        )
        bindings = [
            database.binding("DB"),
            sessions.binding("SESSIONS"),
            images.binding("IMAGES"),
            knowledge.binding("KNOWLEDGE"),
            binding.workers_ai("AI"),
            binding.plain_text("MODE", "strict"),
            binding.json_value("LIMITS", {"acme": {"rpm": 60}, "beta": [1, 2]}),
            binding.secret_text("API_KEY", "s3cr3t-api-key"),
            binding.rate_limit("LOGIN_LIMITER", "1001", 5, 60),
            limiter.service_binding("RATE_LIMITER"),
            limiter.durable_object_binding("REMOTE_LIMITER", "RateLimiter"),
        ]
        api = Worker("api", WorkerArgs(cloudflare, main_module, "2025-06-01", bindings=bindings))
        pulumi.export("bindings", api.worker_version.bindings)

    return evaluate(program)


def test_every_kind_of_binding_is_sent_as_cloudflare_spells_it(main_module: Path) -> None:
    plan = planned_bindings(main_module)
    sent: list[dict[str, Any]] = plan.one(VERSION, "api-version").inputs["bindings"]
    assert sent == [
        {"name": "DB", "type": "d1", "id": "db-id"},
        {"name": "SESSIONS", "type": "kv_namespace", "namespaceId": "sessions-id"},
        {"name": "IMAGES", "type": "r2_bucket", "bucketName": "orchestra-images-dev"},
        {"name": "KNOWLEDGE", "type": "vectorize", "indexName": "orchestra-knowledge-dev"},
        {"name": "AI", "type": "ai"},
        {"name": "MODE", "type": "plain_text", "text": "strict"},
        {"name": "LIMITS", "type": "json", "json": '{"acme":{"rpm":60},"beta":[1,2]}'},
        {"name": "API_KEY", "type": "secret_text", "text": SECRET},
        {"name": "LOGIN_LIMITER", "type": "ratelimit", "namespaceId": "1001", "simple": {"limit": 5, "period": 60}},
        {"name": "RATE_LIMITER", "type": "service", "service": "orchestra-limiter-dev", "environment": "production"},
        {
            "name": "REMOTE_LIMITER",
            "type": "durable_object_namespace",
            "className": "RateLimiter",
            "scriptName": "orchestra-limiter-dev",
        },
    ]
    own = plan.one(VERSION, "limiter-version").inputs["bindings"]
    assert own == [{"name": "LIMITER", "type": "durable_object_namespace", "className": "RateLimiter"}]
    # A bound worker must be deployed before its callers are uploaded.
    api = plan.one(VERSION, "api-version")
    assert plan.one("pulumi-python:dynamic/cloudflare:WorkerRollout", "limiter-rollout").urn in api.dependencies
    # The provider answers with the bindings, secret texts included: the state keeps them encrypted.
    assert plan.outputs["bindings"] == SECRET
    assert "s3cr3t-api-key" not in plan.to_json()
    # The limiter's first version carries its migration: deployed at once, and the plan says so.
    assert plan.diagnostics == (
        "info: worker limiter: the new version is deployed at once: a Durable Object migration is pending, "
        "which Cloudflare's gradual deployments do not allow",
    )


def test_secret_text_is_marked_secret_and_plain_text_is_not() -> None:
    # Outputs need the Pulumi runtime: build the bindings inside a program, as the stack does.
    built: list[binding.Binding] = []
    evaluate(lambda: built.extend([binding.secret_text("KEY", "value"), binding.plain_text("MODE", "strict")]))
    secret, plain = built
    assert secret.secret
    assert not plain.secret


def test_each_kind_sets_what_cloudflare_reads_back_in_the_providers_own_fields(main_module: Path) -> None:
    plan = planned_bindings(main_module)
    sent = plan.one(VERSION, "api-version").inputs["bindings"]
    provider_inputs = set(inspect.signature(cloudflare.WorkerVersionBindingArgs.__init__).parameters)
    provider_outputs = set(inspect.signature(cloudflare.outputs.WorkerVersionBinding.__init__).parameters)
    kinds = set()
    for entry in sent:
        fields = {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower() for key in entry}
        assert fields == FIELDS[entry["type"]], entry["name"]
        # A field the provider does not know would be dropped, and read back as a change.
        assert fields <= provider_inputs & provider_outputs, entry["name"]
        kinds.add(entry["type"])
    assert kinds == set(FIELDS)


@pytest.mark.parametrize("name", ["", "2FAST", "API-KEY", "has space", "a.b"])
def test_a_binding_name_must_be_a_javascript_identifier(name: str) -> None:
    with pytest.raises(ValueError, match="is not a JavaScript identifier"):
        binding.workers_ai(name)


@pytest.mark.parametrize(
    ("namespace_id", "limit", "period", "message"),
    [
        ("abc", 5, 60, "namespace_id must be a positive integer, got 'abc'"),
        ("0", 5, 60, "namespace_id must be a positive integer"),
        ("1001", 0, 60, "limit must be a positive integer, got 0"),
        ("1001", 5, 30, "period must be 10 or 60 seconds, got 30"),
    ],
)
def test_rate_limit_takes_only_what_cloudflare_accepts(
    namespace_id: str, limit: int, period: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=f"rate limit LIMITER: {message}"):
        binding.rate_limit("LIMITER", namespace_id, limit, period)
