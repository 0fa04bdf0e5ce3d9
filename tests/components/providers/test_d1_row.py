from __future__ import annotations

import base64
import pickletools
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.providers.cloudflare_api import CLOUDFLARE_API_BASE
from components.providers.d1_row import D1Row, D1RowProvider
from components.providers.provider import ProviderError
from tests.components.cloudflare.support import (
    ACCOUNT_ID,
    DATABASE_ID,
    SETTING,
    TOKEN,
    FakeCloudflare,
    RecordedRequest,
    Reply,
)
from tests.components.dynamic_provider_support import RecordingMonitor, configured, credentials_sent, hosted

REGISTRY_SCHEMA = Path("systems/tenants/migrations/registry/0001_create_instances.sql")
ACME = {
    "org_id": "acme",
    "environment": "prod",
    "config_service_url": "https://acme-config.example.workers.dev",
    "image_gen_url": "https://acme-image-gen.example.workers.dev",
    "r2_bucket": "acme-generated-images",
}
INPUTS: dict[str, Any] = {
    "api_base": CLOUDFLARE_API_BASE,
    "account_id": ACCOUNT_ID,
    "database_id": DATABASE_ID,
    "credential_setting": SETTING,
    "table": "instances",
    "key_column": "instance_id",
    "key": "acme",
    "values": ACME,
    "updated_at_column": "updated_at",
}
UPSERT_INSTANCE = (
    "INSERT INTO instances (instance_id, org_id, environment, config_service_url, image_gen_url, r2_bucket, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ON CONFLICT (instance_id) "
    "DO UPDATE SET org_id = excluded.org_id, environment = excluded.environment, "
    "config_service_url = excluded.config_service_url, image_gen_url = excluded.image_gen_url, "
    "r2_bucket = excluded.r2_bucket, updated_at = excluded.updated_at RETURNING updated_at;"
)
SELECT_INSTANCE = (
    "SELECT instance_id, org_id, environment, config_service_url, image_gen_url, r2_bucket, updated_at "
    "FROM instances WHERE instance_id = ?;"
)
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
EARLIER = "2026-01-02T03:04:05.678Z"


@pytest.fixture
def registry(cloudflare: FakeCloudflare) -> FakeCloudflare:
    assert cloudflare.query(REGISTRY_SCHEMA.read_text(encoding="utf-8")).status == 200
    return cloudflare


ROTATED = "cf-rotated-api-token"
URN = "urn:pulumi:dev::orchestra::pulumi-python:dynamic/cloudflare:D1Row::acme-registry-entry"


def row_provider(token: str = TOKEN) -> D1RowProvider:
    return configured(D1RowProvider(), {SETTING: token})


def props(cloudflare: FakeCloudflare, **overrides: Any) -> dict[str, Any]:
    return {**INPUTS, "api_base": cloudflare.api_base, **overrides}


def assert_query(request: RecordedRequest, sql: str, params: list[str]) -> None:
    assert request.method == "POST"
    assert request.path == f"/client/v4/accounts/{ACCOUNT_ID}/d1/database/{DATABASE_ID}/query"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {"sql": sql, "params": params}


def rows(cloudflare: FakeCloudflare, sql: str = "SELECT * FROM instances ORDER BY instance_id") -> list[dict[str, Any]]:
    cursor = cloudflare.database.execute(sql)
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def stamp_earlier(cloudflare: FakeCloudflare, outs: dict[str, Any]) -> dict[str, Any]:
    """The row as if written by an earlier deployment: stamps are only milliseconds apart."""
    cloudflare.database.execute("UPDATE instances SET updated_at = ? WHERE instance_id = ?", (EARLIER, outs["key"]))
    return {**outs, "updated_at": EARLIER}


def test_create_inserts_the_row_with_every_value_bound(registry: FakeCloudflare) -> None:
    inputs = props(registry)

    result = row_provider().create(inputs)

    [request] = registry.requests
    assert_query(request, UPSERT_INSTANCE, ["acme", *ACME.values()])
    [row] = rows(registry)
    assert row == {**ACME, "instance_id": "acme", "created_at": row["created_at"], "updated_at": row["updated_at"]}
    assert STAMP.fullmatch(row["updated_at"])
    assert result.id == f"{DATABASE_ID}/instances/acme"
    assert result.outs == {**inputs, "updated_at": row["updated_at"]}


def test_a_value_is_stored_verbatim_never_read_as_sql(registry: FakeCloudflare) -> None:
    hostile = "x'); DROP TABLE instances; --"

    row_provider().create(props(registry, key=hostile, values={**ACME, "org_id": hostile}))

    [row] = rows(registry)
    assert (row["instance_id"], row["org_id"]) == (hostile, hostile)


def test_null_and_whole_numbers_are_written_without_non_string_params(registry: FakeCloudflare) -> None:
    registry.query("CREATE TABLE quotas (model TEXT PRIMARY KEY, rpm INTEGER NOT NULL, note TEXT);")
    # Pulumi carries every number as a double.
    inputs = props(registry, table="quotas", key_column="model", key="ideogram-v3", values={"rpm": 60.0, "note": None})
    inputs["updated_at_column"] = None

    result = row_provider().create(inputs)

    [request] = registry.requests
    assert_query(
        request,
        "INSERT INTO quotas (model, rpm, note) VALUES (?, CAST(? AS INTEGER), NULL) "
        "ON CONFLICT (model) DO UPDATE SET rpm = excluded.rpm, note = excluded.note;",
        ["ideogram-v3", "60"],
    )
    assert rows(registry, "SELECT model, rpm, typeof(rpm) AS type, note FROM quotas") == [
        {"model": "ideogram-v3", "rpm": 60, "type": "integer", "note": None}
    ]
    assert (result.outs or {})["values"] == {"rpm": 60, "note": None}
    assert (result.outs or {})["updated_at"] is None


def test_a_row_with_only_its_key_is_inserted_once(registry: FakeCloudflare) -> None:
    registry.query("CREATE TABLE tenants (slug TEXT PRIMARY KEY);")
    inputs = {**props(registry, table="tenants", key_column="slug", values={}), "updated_at_column": None}

    row_provider().create(inputs)
    row_provider().create(inputs)

    assert registry.requests[0].json()["sql"] == "INSERT INTO tenants (slug) VALUES (?) ON CONFLICT (slug) DO NOTHING;"
    assert rows(registry, "SELECT slug FROM tenants") == [{"slug": "acme"}]


def test_update_rewrites_the_values_and_stamps_the_row(registry: FakeCloudflare) -> None:
    provider = row_provider()
    olds = stamp_earlier(registry, provider.create(props(registry)).outs or {})
    [created] = rows(registry)
    news = props(registry, values={**ACME, "image_gen_url": "https://acme-images.example.com", "r2_bucket": None})
    registry.requests.clear()

    assert provider.diff(str(olds["key"]), olds, news).changes is True
    result = provider.update(f"{DATABASE_ID}/instances/acme", olds, news)

    [request] = registry.requests
    assert request.json()["sql"] == UPSERT_INSTANCE.replace("?, ?, strftime", "?, NULL, strftime")
    assert request.json()["params"] == [
        "acme",
        "acme",
        "prod",
        ACME["config_service_url"],
        news["values"]["image_gen_url"],
    ]
    [row] = rows(registry)
    assert (row["image_gen_url"], row["r2_bucket"]) == ("https://acme-images.example.com", None)
    assert row["created_at"] == created["created_at"]
    assert STAMP.fullmatch(row["updated_at"]) and row["updated_at"] > EARLIER
    assert result.outs == {**news, "updated_at": row["updated_at"]}


def test_creating_a_row_that_exists_takes_it_over(registry: FakeCloudflare) -> None:
    # The first write's answer is lost; urllib3 sends it again.
    registry.scripted.append(Reply(502, "Bad Gateway", after_handling=True))

    result = row_provider().create(props(registry))

    assert [request.json() for request in registry.requests] == [
        {"sql": UPSERT_INSTANCE, "params": ["acme", *ACME.values()]}
    ] * 2
    [row] = rows(registry)
    assert (result.outs or {})["updated_at"] == row["updated_at"]


def test_read_returns_what_the_row_holds(registry: FakeCloudflare) -> None:
    provider = row_provider()
    inputs = props(registry)
    outs = provider.create(inputs).outs or {}
    registry.database.execute("UPDATE instances SET environment = 'staging', updated_at = ?", (EARLIER,))
    registry.requests.clear()

    read = provider.read(f"{DATABASE_ID}/instances/acme", outs)

    [request] = registry.requests
    assert_query(request, SELECT_INSTANCE, ["acme"])
    assert read.id == f"{DATABASE_ID}/instances/acme"
    assert read.outs == {**outs, "values": {**ACME, "environment": "staging"}, "updated_at": EARLIER}
    assert provider.diff(f"{DATABASE_ID}/instances/acme", read.outs or {}, inputs).changes is True


def test_read_of_a_row_deleted_by_hand_drops_it_from_the_state(registry: FakeCloudflare) -> None:
    provider = row_provider()
    outs = provider.create(props(registry)).outs or {}
    registry.database.execute("DELETE FROM instances")

    read = provider.read(f"{DATABASE_ID}/instances/acme", outs)

    assert (read.id, read.outs) == (None, {})


def test_delete_removes_only_its_row(registry: FakeCloudflare) -> None:
    provider = row_provider()
    outs = provider.create(props(registry)).outs or {}
    provider.create(props(registry, key="globex", values={**ACME, "org_id": "globex"}))
    registry.requests.clear()

    provider.delete(f"{DATABASE_ID}/instances/acme", outs)

    [request] = registry.requests
    assert_query(
        request, "DELETE FROM instances WHERE instance_id = ? AND updated_at = ?;", ["acme", outs["updated_at"]]
    )
    assert [row["instance_id"] for row in rows(registry)] == ["globex"]


def test_delete_of_a_row_that_is_gone_succeeds(registry: FakeCloudflare) -> None:
    provider = row_provider()
    outs = provider.create(props(registry)).outs or {}
    registry.database.execute("DELETE FROM instances")

    provider.delete(f"{DATABASE_ID}/instances/acme", outs)

    assert rows(registry) == []


def test_delete_leaves_a_row_another_resource_has_since_written(registry: FakeCloudflare) -> None:
    # The instance moved to a file with another resource name: Pulumi writes the
    # new resource's row, then deletes the removed resource.
    provider = row_provider()
    removed = stamp_earlier(registry, provider.create(props(registry)).outs or {})
    moved = {**ACME, "environment": "staging"}
    provider.create(props(registry, values=moved))

    provider.delete(f"{DATABASE_ID}/instances/acme", removed)

    [row] = rows(registry)
    assert row["environment"] == "staging"


def test_a_replaced_key_writes_the_new_row_then_deletes_the_old(registry: FakeCloudflare) -> None:
    provider = row_provider()
    olds = provider.create(props(registry)).outs or {}
    news = props(registry, key="acme-eu")
    diff = provider.diff(f"{DATABASE_ID}/instances/acme", olds, news)
    assert (diff.replaces, diff.delete_before_replace) == (["key"], False)

    provider.create(news)
    provider.delete(f"{DATABASE_ID}/instances/acme", olds)

    assert [row["instance_id"] for row in rows(registry)] == ["acme-eu"]


def test_without_an_updated_at_column_delete_goes_by_key(registry: FakeCloudflare) -> None:
    registry.query("CREATE TABLE tenants (slug TEXT PRIMARY KEY, org TEXT);")
    provider = row_provider()
    inputs = {**props(registry, table="tenants", key_column="slug", values={"org": "acme"}), "updated_at_column": None}
    outs = provider.create(inputs).outs or {}
    registry.requests.clear()

    provider.delete(f"{DATABASE_ID}/tenants/acme", outs)

    [request] = registry.requests
    assert_query(request, "DELETE FROM tenants WHERE slug = ?;", ["acme"])
    assert rows(registry, "SELECT * FROM tenants") == []


def test_an_api_error_shows_cloudflares_message_never_the_token(registry: FakeCloudflare) -> None:
    with pytest.raises(ProviderError) as failed:
        row_provider().create(props(registry, table="registry"))

    message = str(failed.value)
    assert f"/accounts/{ACCOUNT_ID}/d1/database/{DATABASE_ID}/query" in message
    assert "HTTP 400" in message and "[7500] no such table: registry: SQLITE_ERROR" in message
    assert TOKEN not in message and TOKEN not in repr(failed.value.args)


def test_a_name_that_skipped_check_is_never_spliced_into_sql(registry: FakeCloudflare) -> None:
    with pytest.raises(ProviderError, match="not a plain SQL identifier"):
        row_provider().delete("x", props(registry, table="instances; DROP TABLE instances"))

    assert registry.requests == []


OUTPUTS = {**INPUTS, "updated_at": EARLIER}


@pytest.mark.parametrize(
    ("change", "changes", "replaces", "delete_first"),
    [
        pytest.param({}, False, [], False, id="unchanged"),
        pytest.param({"credential_setting": "orchestra:other"}, True, [], False, id="setting-is-an-update"),
        pytest.param({"values": {**ACME, "r2_bucket": None}}, True, [], False, id="values"),
        pytest.param({"values": {**ACME, "image_gen_url": Unknown()}}, True, [], False, id="unknown-value"),
        pytest.param({"values": Unknown()}, True, [], False, id="unknown-values"),
        pytest.param({"api_base": "http://127.0.0.1:1/client/v4"}, True, [], False, id="api-base"),
        pytest.param({"updated_at_column": None}, True, [], False, id="updated-at-column"),
        pytest.param({"key": "acme-eu"}, True, ["key"], False, id="key"),
        pytest.param({"key": "ACME"}, True, ["key"], True, id="key-case"),
        pytest.param({"key": Unknown()}, True, ["key"], True, id="unknown-key"),
        pytest.param({"table": "instances_v2"}, True, ["table"], False, id="table"),
        pytest.param({"table": "Instances"}, True, ["table"], True, id="table-case"),
        pytest.param({"key_column": "org_id"}, True, ["key_column"], True, id="key-column"),
        pytest.param({"database_id": "0000-other"}, True, ["database_id"], False, id="database"),
        pytest.param({"account_id": "other-account"}, True, ["account_id"], False, id="account"),
    ],
)
def test_diff(change: dict[str, Any], changes: bool, replaces: list[str], delete_first: bool) -> None:
    result = row_provider().diff(f"{DATABASE_ID}/instances/acme", OUTPUTS, {**INPUTS, **change})

    assert (result.changes, result.replaces, result.delete_before_replace) == (changes, replaces, delete_first)


def test_diff_sees_pulumis_doubles_as_the_whole_numbers_read_back() -> None:
    olds = {**OUTPUTS, "values": {"rpm": 60}}

    assert row_provider().diff("x", olds, {**INPUTS, "values": {"rpm": 60.0}}).changes is False


@pytest.mark.parametrize(
    ("override", "failed_property"),
    [
        ({"table": "instances; DROP TABLE instances"}, "table"),
        ({"table": "registry.instances"}, "table"),
        ({"key_column": "1st"}, "key_column"),
        ({"key_column": 'instance_id"'}, "key_column"),
        ({"updated_at_column": "updated-at"}, "updated_at_column"),
        ({"values": {"org id": "acme"}}, "values"),
        ({"values": {"instance_id": "acme"}}, "values"),
        ({"values": {"Updated_At": "2026"}}, "values"),
        ({"values": {"org_id": "acme", "ORG_ID": "acme"}}, "values"),
        ({"values": {"dedicated": True}}, "values"),
        ({"values": {"rpm": 1.5}}, "values"),
        ({"values": {"keys": ["primary", "ci"]}}, "values"),
        ({"values": ["acme"]}, "values"),
        ({"key": ""}, "key"),
        ({"database_id": None}, "database_id"),
        ({"credential_setting": "orchestra:unset"}, "credential_setting"),
    ],
)
def test_check_rejects_malformed_inputs_without_echoing_the_token(
    override: dict[str, Any], failed_property: str
) -> None:
    failures = row_provider().check({}, {**INPUTS, **override}).failures

    assert [failure.property for failure in failures] == [failed_property]
    assert TOKEN not in failures[0].reason


def test_check_accepts_valid_and_not_yet_known_inputs() -> None:
    unknowns = {**INPUTS, "key": Unknown(), "values": {**ACME, "org_id": Unknown()}}
    others = {**INPUTS, "values": {"rpm": 60.0, "note": None}, "updated_at_column": None}

    assert row_provider().check({}, INPUTS).failures == []
    assert row_provider().check({}, unknowns).failures == []
    assert row_provider().check({}, {**INPUTS, "values": Unknown()}).failures == []
    assert row_provider().check({}, others).failures == []


@pulumi.runtime.test
def test_resource_registers_the_setting_not_the_token_and_the_row_as_inputs(
    monitor: RecordingMonitor,
) -> pulumi.Output[Any]:
    image_gen_url = pulumi.Output.from_input(ACME["image_gen_url"])
    resource = D1Row(
        "acme-registry-row",
        ACCOUNT_ID,
        DATABASE_ID,
        SETTING,
        table="instances",
        key_column="instance_id",
        key="acme",
        values={**ACME, "image_gen_url": image_gen_url},
    )

    def check(_: Any) -> None:
        [request] = [r for r in monitor.registrations if r.name == "acme-registry-row"]
        assert request.type == "pulumi-python:dynamic/cloudflare:D1Row"
        inputs = rpc.deserialize_properties(request.object)
        assert list(request.additionalSecretOutputs) == []
        assert {key: inputs[key] for key in INPUTS} == INPUTS
        # The stamp is an output only; a None input is not sent.
        assert set(inputs) == {*INPUTS, "__provider"}
        # The provider is stored as a reference to its module's class, not as code.
        pickled = base64.b64decode(rpc.unwrap_rpc_secret(inputs["__provider"]))
        names = [arg for op, arg, _ in pickletools.genops(pickled) if op.name == "SHORT_BINUNICODE"]
        assert names == ["components.providers.d1_row", "D1RowProvider"]

    return resource.urn.apply(check)


def test_after_a_rotation_every_command_uses_the_configured_token_never_the_first(registry: FakeCloudflare) -> None:
    with hosted(D1RowProvider(), URN, {SETTING: TOKEN}) as host:
        id_, state = host.create(host.check({}, props(registry)))
    registry.tokens = {ROTATED}  # the first token is revoked; the stack's setting holds the new one
    after_rotation = len(registry.requests)
    moved = {**ACME, "r2_bucket": "acme-images-2"}

    with hosted(D1RowProvider(), URN, {SETTING: ROTATED}) as host:
        refreshed = host.read(id_, state)
        news = host.check(refreshed, props(registry, values=moved))
        diff = host.diff(id_, refreshed, news)
        updated = host.update(id_, refreshed, news)
        assert rows(registry)[0]["r2_bucket"] == "acme-images-2"
        host.delete(id_, updated)

    assert refreshed["values"] == ACME
    assert list(diff.replaces) == []
    assert rows(registry) == []
    assert credentials_sent(registry.requests[after_rotation:]) == {f"Bearer {ROTATED}"}


def test_a_rotated_token_alone_is_no_change() -> None:
    assert row_provider(ROTATED).diff(f"{DATABASE_ID}/instances/acme", OUTPUTS, INPUTS).changes is False


def test_a_tenant_stack_sends_the_token_of_the_commands_environment(
    registry: FakeCloudflare, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tenant stack's configuration holds no token: its resources name the variable the CLI is run with.
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    provider = configured(D1RowProvider(), {SETTING: ROTATED})

    provider.create(props(registry, credential_setting="$CLOUDFLARE_API_TOKEN"))

    assert credentials_sent(registry.requests) == {f"Bearer {TOKEN}"}


def test_without_the_variable_a_preview_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)

    [failure] = (
        configured(D1RowProvider(), {}).check({}, {**INPUTS, "credential_setting": "$CLOUDFLARE_API_TOKEN"}).failures
    )

    assert failure.reason == (
        "environment variable CLOUDFLARE_API_TOKEN is not set: it holds this resource's credential; "
        "set CLOUDFLARE_API_TOKEN in the environment of the command"
    )


@pytest.mark.parametrize("source", ["$cloudflare_api_token", "$", "CLOUDFLARE_API_TOKEN"])
def test_a_credential_source_that_is_neither_a_setting_nor_a_variable_is_refused(source: str) -> None:
    [failure] = configured(D1RowProvider(), {}).check({}, {**INPUTS, "credential_setting": source}).failures

    assert failure.reason.startswith("credential_setting must name a stack setting")
