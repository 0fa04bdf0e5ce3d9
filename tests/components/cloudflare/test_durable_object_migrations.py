from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.cloudflare import binding
from components.cloudflare.durable_object_migrations import (
    DurableObjectMigration,
    DurableObjectMigrations,
    DurableObjectMigrationsProvider,
    defined_classes,
)
from components.cloudflare.worker import Worker, WorkerArgs
from tests.components.dynamic_provider_support import HostedProvider, RecordingMonitor, provider_host, rotate

from .blocks import ACCOUNT_ID, account
from .deployments import DeploymentFailed, Deployments
from .support import TOKEN, FakeCloudflare, Script

SCRIPT = "orchestra-limiter-dev"
V1 = DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"])
V2 = DurableObjectMigration("v2", new_sqlite_classes=["Counter"])
V1_STEP = {"new_sqlite_classes": ["RateLimiter"]}
V2_STEP = {"new_sqlite_classes": ["Counter"]}
MIGRATIONS_RESOURCE = "limiter-durable-object-migrations"


def props(cloudflare: FakeCloudflare, *migrations: DurableObjectMigration, **overrides: Any) -> dict[str, Any]:
    return {
        "api_base": cloudflare.api_base,
        "account_id": ACCOUNT_ID,
        "script_name": SCRIPT,
        "api_token": TOKEN,
        "migrations": [migration.step() for migration in migrations],
        **overrides,
    }


def limiter(source: Path, migrations: Sequence[DurableObjectMigration]) -> None:
    """The program: a worker hosting the classes `migrations` leave, bound to `RateLimiter`."""
    Worker(
        "limiter",
        WorkerArgs(
            account(),
            source,
            "2025-06-01",
            durable_object_migrations=migrations,
            bindings=[binding.durable_object_namespace("LIMITER", "RateLimiter")],
        ),
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "limiter.js"
    path.write_text("export class RateLimiter {}\nexport class Counter {}\nexport default {};\n")
    return path


def test_deploys_after_the_first_send_only_what_the_script_lacks(
    cloudflare: FakeCloudflare, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployments = Deployments(cloudflare, monkeypatch)

    deployments.up(lambda: limiter(source, [V1]))
    assert cloudflare.scripts[SCRIPT] == Script("v1", {"RateLimiter"}, uploads=1)
    # The class list is unchanged; the script is uploaded again (a module changed), twice.
    deployments.up(lambda: limiter(source, [V1]))
    assert deployments.steps == [("update", MIGRATIONS_RESOURCE)]
    deployments.up(lambda: limiter(source, [V1]))
    assert deployments.steps == []
    assert cloudflare.scripts[SCRIPT] == Script("v1", {"RateLimiter"}, uploads=3)
    # A second class, as the next step.
    plan = deployments.up(lambda: limiter(source, [V1, V2]))

    assert cloudflare.scripts[SCRIPT] == Script("v2", {"RateLimiter", "Counter"}, uploads=4)
    sent = plan.one("cloudflare:index/workersScript:WorkersScript", "limiter").inputs["migrations"]
    assert sent == {"oldTag": "v1", "newTag": "v2", "steps": [{"newSqliteClasses": ["Counter"]}]}


def test_a_script_the_fixed_migration_left_at_v1_is_uploaded_without_migrations(
    cloudflare: FakeCloudflare, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deployed before this resource existed, with v1 sent on its first upload.
    cloudflare.scripts[SCRIPT] = Script("v1", {"RateLimiter"}, uploads=1)
    deployments = Deployments(cloudflare, monkeypatch)

    plan = deployments.up(lambda: limiter(source, [V1]))

    assert deployments.steps == [("create", MIGRATIONS_RESOURCE)]
    assert "migrations" not in plan.one("cloudflare:index/workersScript:WorkersScript", "limiter").inputs
    assert cloudflare.scripts[SCRIPT] == Script("v1", {"RateLimiter"}, uploads=2)


@pytest.mark.parametrize(
    "migrations",
    [
        # What a fixed migration sends on every upload: refused once the script is at v1.
        {"newTag": "v1", "newSqliteClasses": ["RateLimiter"]},
        {"newTag": "v1", "steps": [{"newSqliteClasses": ["RateLimiter"]}]},
        {"oldTag": "v0", "newTag": "v2", "steps": [{"newSqliteClasses": ["Counter"]}]},
    ],
)
def test_the_fake_refuses_migrations_that_do_not_start_from_the_scripts_tag(
    cloudflare: FakeCloudflare, monkeypatch: pytest.MonkeyPatch, migrations: dict[str, Any]
) -> None:
    cloudflare.scripts[SCRIPT] = Script("v1", {"RateLimiter"}, uploads=1)
    inputs = {"scriptName": SCRIPT, "mainModule": "limiter.js", "bindings": [], "migrations": migrations}

    with pytest.raises(DeploymentFailed, match=r"10079.*Migration tag precondition failed; current tag is v1"):
        Deployments(cloudflare, monkeypatch).upload(inputs)
    assert cloudflare.scripts[SCRIPT] == Script("v1", {"RateLimiter"}, uploads=1)


def test_a_new_script_gets_every_step_without_an_old_tag(cloudflare: FakeCloudflare) -> None:
    checked = DurableObjectMigrationsProvider().check({}, props(cloudflare, V1, V2))

    assert checked.failures == []
    assert checked.inputs["pending"] == {"new_tag": "v2", "steps": [V1_STEP, V2_STEP]}
    assert cloudflare.requests[0].method == "GET"
    assert cloudflare.requests[0].path == f"/client/v4/accounts/{ACCOUNT_ID}/workers/services/{SCRIPT}"
    assert cloudflare.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("tag", "pending"),
    [
        (None, {"new_tag": "v2", "steps": [V1_STEP, V2_STEP]}),
        ("v1", {"old_tag": "v1", "new_tag": "v2", "steps": [V2_STEP]}),
        ("v2", {}),
    ],
)
def test_pending_steps_start_after_the_scripts_tag(
    cloudflare: FakeCloudflare, tag: str | None, pending: dict[str, Any]
) -> None:
    cloudflare.scripts[SCRIPT] = Script(tag, set())
    provider = DurableObjectMigrationsProvider()

    assert provider.check({}, props(cloudflare, V1, V2)).inputs["pending"] == pending
    assert (provider.create(props(cloudflare, V1, V2)).outs or {})["pending"] == pending


def test_a_tag_the_program_does_not_declare_sends_nothing_and_warns(
    cloudflare: FakeCloudflare, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", warnings.append)
    cloudflare.scripts[SCRIPT] = Script("v3", {"RateLimiter", "Counter", "Queue"})

    checked = DurableObjectMigrationsProvider().check({}, props(cloudflare, V1, V2))

    assert checked.failures == []
    assert checked.inputs["pending"] == {}
    [warning] = warnings
    assert f"worker script {SCRIPT} is at Durable Object migration 'v3'" in warning
    assert "declared: v1, v2" in warning


def test_an_applied_step_that_was_changed_is_refused_and_a_pending_one_may_change(cloudflare: FakeCloudflare) -> None:
    cloudflare.scripts[SCRIPT] = Script("v1", {"RateLimiter"})
    provider = DurableObjectMigrationsProvider()
    deployed = props(cloudflare, V1, V2)
    counter_as_kv = DurableObjectMigration("v2", new_classes=["Counter"])

    edited_v1 = provider.check(
        deployed, props(cloudflare, DurableObjectMigration("v1", new_classes=["RateLimiter"]), V2)
    )
    edited_v2 = provider.check(deployed, props(cloudflare, V1, counter_as_kv))

    [failure] = edited_v1.failures
    assert failure.property == "migrations"
    assert failure.reason == "applied Durable Object migrations are append-only (v1 changed): add a step"
    assert edited_v2.failures == []
    assert edited_v2.inputs["pending"] == {"old_tag": "v1", "new_tag": "v2", "steps": [{"new_classes": ["Counter"]}]}


def test_unknown_inputs_in_a_preview_read_nothing(cloudflare: FakeCloudflare) -> None:
    news = props(cloudflare, V1, script_name=Unknown(), pending={"new_tag": "v1", "steps": [V1_STEP]})

    checked = DurableObjectMigrationsProvider().check({}, news)

    assert checked.failures == []
    assert checked.inputs["pending"] == {"new_tag": "v1", "steps": [V1_STEP]}
    assert cloudflare.requests == []


def test_an_api_error_names_cloudflares_message_never_the_token(cloudflare: FakeCloudflare) -> None:
    with pytest.raises(Exception, match=r"HTTP 403 Forbidden: \[10000\] Authentication error") as failed:
        DurableObjectMigrationsProvider().check({}, props(cloudflare, V1, api_token="revoked-token"))
    assert "revoked-token" not in str(failed.value)


@pytest.mark.parametrize(
    ("change", "changes"),
    [
        ({}, False),
        ({"api_token": "rotated-token"}, True),
        ({"pending": {}}, True),
        ({"migrations": [V1.step(), V2.step()]}, True),
        ({"script_name": Unknown()}, True),
    ],
)
def test_diff_is_an_update_never_a_replacement(
    cloudflare: FakeCloudflare, change: dict[str, Any], changes: bool
) -> None:
    olds = {**props(cloudflare, V1), "pending": {"new_tag": "v1", "steps": [V1_STEP]}}

    result = DurableObjectMigrationsProvider().diff(SCRIPT, olds, {**olds, **change})

    assert (result.changes, result.replaces) == (changes, [])


@pytest.mark.parametrize(
    ("migrations", "message"),
    [
        ([V1, V1], "migration 'v1': tags must be unique"),
        ([DurableObjectMigration("v1")], "a step must create, rename, delete or transfer a class"),
        ([V1, DurableObjectMigration("v2", new_classes=["RateLimiter"])], "class RateLimiter already exists"),
        ([DurableObjectMigration("v1", deleted_classes=["Gone"])], "cannot delete Gone, which does not exist"),
        ([V1, DurableObjectMigration("v2", renamed_classes=[("Counter", "Meter")])], "cannot rename Counter"),
        ([DurableObjectMigration("v1", new_classes=["Rate-Limiter"])], r"class names: \['Rate-Limiter'\]"),
        ([DurableObjectMigration("v 1", new_classes=["A"])], "a tag is 1-64 letters"),
    ],
)
def test_a_history_cloudflare_would_refuse_stops_the_program(
    migrations: list[DurableObjectMigration], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        defined_classes("limiter", migrations)


def test_the_classes_are_those_the_steps_leave() -> None:
    history = [
        V1,
        DurableObjectMigration("v2", new_classes=["Counter"], renamed_classes=[("RateLimiter", "Limiter")]),
        DurableObjectMigration("v3", deleted_classes=["Counter"], transferred_classes=[("old-worker", "Queue", "Q")]),
    ]
    assert defined_classes("limiter", history) == {"Limiter", "Q"}
    assert history[2].step() == {
        "tag": "v3",
        "deleted_classes": ["Counter"],
        "transferred_classes": [{"from": "Queue", "from_script": "old-worker", "to": "Q"}],
    }


def test_a_rotated_token_is_stored_by_an_update_and_used_by_refresh(cloudflare: FakeCloudflare) -> None:
    rotated = "cf-rotated-api-token"
    cloudflare.tokens.add(rotated)
    urn = "urn:pulumi:dev::orchestra::pulumi-python:dynamic/cloudflare:DurableObjectMigrations::limiter-migrations"
    with provider_host() as stub:
        host = HostedProvider(stub, DurableObjectMigrationsProvider(), urn)
        id_, state = rotate(host, props(cloudflare, V1), props(cloudflare, V1, api_token=rotated))
        cloudflare.tokens.remove(TOKEN)  # revoked once the update stored the new one
        refreshed = host.read(id_, state)

    assert (state["api_token"], refreshed["pending"]) == (rotated, {"new_tag": "v1", "steps": [V1_STEP]})
    assert cloudflare.requests[-1].headers["authorization"] == f"Bearer {rotated}"


@pulumi.runtime.test
def test_resource_registers_the_token_as_a_secret(monitor: RecordingMonitor) -> pulumi.Output[Any]:
    resource = DurableObjectMigrations("limiter-migrations", ACCOUNT_ID, SCRIPT, TOKEN, [V1])

    def check(_: Any) -> None:
        [request] = [r for r in monitor.registrations if r.name == "limiter-migrations"]
        inputs = rpc.deserialize_properties(request.object)
        assert rpc.is_rpc_secret(inputs["api_token"])
        assert list(request.additionalSecretOutputs) == ["api_token"]
        assert inputs["migrations"] == [{"tag": "v1", "new_sqlite_classes": ["RateLimiter"]}]
        assert inputs["pending"] == {"new_tag": "v1", "steps": [V1_STEP]}

    return resource.urn.apply(check)
