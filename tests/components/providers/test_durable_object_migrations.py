from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.cloudflare.durable_object_migrations import DurableObjectMigration
from components.providers.durable_object_migrations import DurableObjectMigrations, DurableObjectMigrationsProvider
from tests.components.cloudflare.support import ACCOUNT_ID, SETTING, TOKEN, FakeCloudflare, Script
from tests.components.dynamic_provider_support import RecordingMonitor, configured, credentials_sent, hosted

SCRIPT = "orchestra-limiter-dev"
V1 = DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"])
V2 = DurableObjectMigration("v2", new_sqlite_classes=["Counter"])
V1_STEP = {"new_sqlite_classes": ["RateLimiter"]}
V2_STEP = {"new_sqlite_classes": ["Counter"]}
DIGEST = "0" * 64
ROTATED = "cf-rotated-api-token"
URN = "urn:pulumi:dev::orchestra::pulumi-python:dynamic/cloudflare:DurableObjectMigrations::limiter-migrations"


def migrations_provider(token: str = TOKEN) -> DurableObjectMigrationsProvider:
    return configured(DurableObjectMigrationsProvider(), {SETTING: token})


def props(cloudflare: FakeCloudflare, *migrations: DurableObjectMigration, **overrides: Any) -> dict[str, Any]:
    return {
        "api_base": cloudflare.api_base,
        "account_id": ACCOUNT_ID,
        "script_name": SCRIPT,
        "credential_setting": SETTING,
        "migrations": [migration.step() for migration in migrations],
        "upload_digest": DIGEST,
        **overrides,
    }


def test_a_new_script_gets_every_step_without_an_old_tag(cloudflare: FakeCloudflare) -> None:
    checked = migrations_provider().check({}, props(cloudflare, V1, V2))

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
    provider = migrations_provider()

    assert provider.check({}, props(cloudflare, V1, V2)).inputs["pending"] == pending
    assert (provider.create(props(cloudflare, V1, V2)).outs or {})["pending"] == pending


def test_a_tag_the_program_does_not_declare_sends_nothing_and_warns(
    cloudflare: FakeCloudflare, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", warnings.append)
    cloudflare.scripts[SCRIPT] = Script("v3", {"RateLimiter", "Counter", "Queue"})

    checked = migrations_provider().check({}, props(cloudflare, V1, V2))

    assert checked.failures == []
    assert checked.inputs["pending"] == {}
    [warning] = warnings
    assert f"worker script {SCRIPT} is at Durable Object migration 'v3'" in warning
    assert "declared: v1, v2" in warning


def test_an_applied_step_that_was_changed_is_refused_and_a_pending_one_may_change(cloudflare: FakeCloudflare) -> None:
    cloudflare.scripts[SCRIPT] = Script("v1", {"RateLimiter"})
    provider = migrations_provider()
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

    checked = migrations_provider().check({}, news)

    assert checked.failures == []
    assert checked.inputs["pending"] == {"new_tag": "v1", "steps": [V1_STEP]}
    assert cloudflare.requests == []


def test_an_api_error_names_cloudflares_message_never_the_token(cloudflare: FakeCloudflare) -> None:
    with pytest.raises(Exception, match=r"HTTP 403 Forbidden: \[10000\] Authentication error") as failed:
        migrations_provider("revoked-token").check({}, props(cloudflare, V1))
    assert "revoked-token" not in str(failed.value)


@pytest.mark.parametrize(
    ("change", "changes"),
    [
        ({}, False),
        ({"credential_setting": "orchestra:other"}, True),
        ({"upload_digest": "1" * 64}, True),
        ({"pending": {}}, True),
        ({"migrations": [V1.step(), V2.step()]}, True),
        ({"script_name": Unknown()}, True),
    ],
)
def test_diff_is_an_update_never_a_replacement(
    cloudflare: FakeCloudflare, change: dict[str, Any], changes: bool
) -> None:
    olds = {**props(cloudflare, V1), "pending": {"new_tag": "v1", "steps": [V1_STEP]}}

    result = migrations_provider().diff(SCRIPT, olds, {**olds, **change})

    assert (result.changes, result.replaces) == (changes, [])


@pulumi.runtime.test
def test_resource_registers_the_setting_not_the_token(monitor: RecordingMonitor) -> pulumi.Output[Any]:
    resource = DurableObjectMigrations("limiter-migrations", ACCOUNT_ID, SCRIPT, SETTING, [V1.step()], DIGEST)

    def check(_: Any) -> None:
        [request] = [r for r in monitor.registrations if r.name == "limiter-migrations"]
        inputs = rpc.deserialize_properties(request.object)
        assert (inputs["credential_setting"], inputs["upload_digest"]) == (SETTING, DIGEST)
        assert list(request.additionalSecretOutputs) == []
        assert inputs["migrations"] == [{"tag": "v1", "new_sqlite_classes": ["RateLimiter"]}]
        assert inputs["pending"] == {"new_tag": "v1", "steps": [V1_STEP]}

    return resource.urn.apply(check)


def test_while_the_upload_is_unchanged_the_last_pending_steps_stay_and_nothing_is_read(
    cloudflare: FakeCloudflare,
) -> None:
    # The last deployment sent v2 after v1, and the script is at v2 now.
    cloudflare.scripts[SCRIPT] = Script("v2", {"RateLimiter", "Counter"})
    sent = {"old_tag": "v1", "new_tag": "v2", "steps": [V2_STEP]}
    olds = {**props(cloudflare, V1, V2), "pending": sent}
    provider = migrations_provider()

    checked = provider.check(olds, props(cloudflare, V1, V2))

    assert checked.inputs["pending"] == sent
    assert provider.diff(SCRIPT, olds, checked.inputs).changes is False
    assert cloudflare.requests == []


def test_an_upload_that_changes_reads_the_tag_again_and_sends_only_what_is_lacking(
    cloudflare: FakeCloudflare,
) -> None:
    cloudflare.scripts[SCRIPT] = Script("v2", {"RateLimiter", "Counter"})
    olds = {**props(cloudflare, V1, V2), "pending": {"old_tag": "v1", "new_tag": "v2", "steps": [V2_STEP]}}
    provider = migrations_provider()

    checked = provider.check(olds, props(cloudflare, V1, V2, upload_digest="1" * 64))
    updated = provider.update(SCRIPT, olds, checked.inputs)

    assert checked.inputs["pending"] == {}
    assert (updated.outs or {})["pending"] == {}
    assert [request.method for request in cloudflare.requests] == ["GET", "GET"]


def test_refresh_keeps_what_the_last_upload_carried(cloudflare: FakeCloudflare) -> None:
    cloudflare.scripts[SCRIPT] = Script("v1", {"RateLimiter"})
    state = {**props(cloudflare, V1), "pending": {"new_tag": "v1", "steps": [V1_STEP]}}

    assert migrations_provider().read(SCRIPT, state).outs == state


def test_after_a_rotation_every_command_uses_the_configured_token_never_the_first(cloudflare: FakeCloudflare) -> None:
    with hosted(DurableObjectMigrationsProvider(), URN, {SETTING: TOKEN}) as host:
        id_, state = host.create(host.check({}, props(cloudflare, V1)))
    cloudflare.scripts[SCRIPT] = Script("v1", {"RateLimiter"})  # the upload applied v1
    cloudflare.tokens = {ROTATED}  # the first token is revoked; the stack's setting holds the new one
    after_rotation = len(cloudflare.requests)

    with hosted(DurableObjectMigrationsProvider(), URN, {SETTING: ROTATED}) as host:
        refreshed = host.read(id_, state)
        news = host.check(refreshed, props(cloudflare, V1, V2))
        diff = host.diff(id_, refreshed, news)
        updated = host.update(id_, refreshed, news)
        host.delete(id_, updated)

    assert refreshed["pending"] == {"new_tag": "v1", "steps": [V1_STEP]}
    assert list(diff.replaces) == []
    assert updated["pending"] == {"old_tag": "v1", "new_tag": "v2", "steps": [V2_STEP]}
    assert len(cloudflare.requests) > after_rotation
    assert credentials_sent(cloudflare.requests[after_rotation:]) == {f"Bearer {ROTATED}"}
