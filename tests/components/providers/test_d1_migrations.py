from __future__ import annotations

import base64
import hashlib
import pickletools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.providers.cloudflare_api import CLOUDFLARE_API_BASE
from components.providers.d1_migrations import D1Migrations, D1MigrationsProvider, read_migrations
from components.providers.provider import ProviderError
from tests.components.cloudflare.support import (
    ACCOUNT_ID,
    DATABASE_ID,
    SETTING,
    TOKEN,
    FakeCloudflare,
    RecordedRequest,
    Reply,
    failure,
)
from tests.components.dynamic_provider_support import (
    HostedProvider,
    RecordingMonitor,
    configured,
    credentials_sent,
    hosted,
    provider_host,
)

MIGRATIONS = {
    "0001_create_users.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n",
    "0002_create_sessions.sql": (
        "-- Sessions belong to users.\n"
        "CREATE TABLE sessions (token TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id));\n"
        "CREATE INDEX sessions_by_user ON sessions(user_id);\n"
    ),
    # A `;` inside a string, and a last line that is a comment without a newline.
    "0003_seed_admin.sql": "INSERT INTO users (email) VALUES ('admin@example.com; ops');\n-- seeded once",
}
BROKEN = "CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"

LIST_APPLIED = (
    "CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
    "applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n"
    "SELECT name FROM d1_migrations ORDER BY id;"
)

ROTATED = "cf-rotated-api-token"
URN = "urn:pulumi:dev::orchestra::pulumi-python:dynamic/cloudflare:D1Migrations::db-migrations"


def migrations_provider(token: str = TOKEN) -> D1MigrationsProvider:
    return configured(D1MigrationsProvider(), {SETTING: token})


def batch(name: str, sql: str) -> str:
    return f"{sql}\nINSERT INTO d1_migrations (name) VALUES ('{name}');"


def write(directory: Path, files: Mapping[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


def props(cloudflare: FakeCloudflare, directory: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "api_base": cloudflare.api_base,
        "account_id": ACCOUNT_ID,
        "database_id": DATABASE_ID,
        "credential_setting": SETTING,
        "migrations": read_migrations(directory),
        **overrides,
    }


def assert_query(request: RecordedRequest, sql: str) -> None:
    assert request.method == "POST"
    assert request.path == f"/client/v4/accounts/{ACCOUNT_ID}/d1/database/{DATABASE_ID}/query"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"sql": sql}


def test_migrations_are_read_in_wranglers_numeric_order(tmp_path: Path) -> None:
    files = {
        "10_last.sql": "SELECT 10;",
        "2_second.sql": "SELECT 2;",
        "0001_b.sql": "SELECT 1;",
        "1_a.sql": "SELECT 1;",
    }
    directory = write(tmp_path / "migrations", files)
    (directory / "README.md").write_text("not a migration")
    (directory / "0003_windows.sql").write_bytes(b"SELECT 3;\r\nSELECT 4;\r\n")

    migrations = read_migrations(directory)

    assert [m["name"] for m in migrations] == [
        "0001_b.sql",
        "1_a.sql",
        "2_second.sql",
        "0003_windows.sql",
        "10_last.sql",
    ]
    windows = migrations[3]
    assert windows["sql"] == "SELECT 3;\nSELECT 4;\n"
    assert windows["sha256"] == hashlib.sha256(b"SELECT 3;\nSELECT 4;\n").hexdigest()


def test_a_migration_file_without_a_number_or_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"init\.sql: D1 migration files are named <number>_<description>\.sql"):
        read_migrations(write(tmp_path / "migrations", {"init.sql": "SELECT 1;"}))
    with pytest.raises(ValueError, match="does not exist"):
        read_migrations(tmp_path / "nowhere")


def test_first_apply_runs_every_migration_in_order_and_records_each(cloudflare: FakeCloudflare, tmp_path: Path) -> None:
    inputs = props(cloudflare, write(tmp_path / "migrations", MIGRATIONS))

    result = migrations_provider().create(inputs)

    assert_query(cloudflare.requests[0], LIST_APPLIED)
    for request, (name, sql) in zip(cloudflare.requests[1:], MIGRATIONS.items(), strict=True):
        assert_query(request, batch(name, sql))
    assert cloudflare.recorded_migrations() == list(MIGRATIONS)
    assert {"users", "sessions"} <= cloudflare.tables()
    assert cloudflare.database.execute("SELECT email FROM users").fetchall() == [("admin@example.com; ops",)]
    assert result.id == DATABASE_ID
    assert result.outs == {**inputs, "applied": list(MIGRATIONS)}


def test_applying_twice_changes_nothing_the_second_time(cloudflare: FakeCloudflare, tmp_path: Path) -> None:
    provider = migrations_provider()
    inputs = props(cloudflare, write(tmp_path / "migrations", MIGRATIONS))
    outs = provider.create(inputs).outs or {}
    recorded = cloudflare.database.execute("SELECT * FROM d1_migrations").fetchall()
    cloudflare.requests.clear()

    assert provider.diff(DATABASE_ID, outs, inputs).changes is False
    result = provider.update(DATABASE_ID, outs, inputs)

    [request] = cloudflare.requests
    assert_query(request, LIST_APPLIED)
    assert cloudflare.database.execute("SELECT * FROM d1_migrations").fetchall() == recorded
    assert result.outs == outs


def test_a_new_file_applies_only_that_one(cloudflare: FakeCloudflare, tmp_path: Path) -> None:
    provider = migrations_provider()
    directory = write(tmp_path / "migrations", MIGRATIONS)
    outs = provider.create(props(cloudflare, directory)).outs or {}
    new_sql = "ALTER TABLE users ADD COLUMN name TEXT;\n"
    news = props(cloudflare, write(directory, {"0004_add_user_names.sql": new_sql}))
    cloudflare.requests.clear()

    assert provider.diff(DATABASE_ID, outs, news).changes is True
    result = provider.update(DATABASE_ID, outs, news)

    assert len(cloudflare.requests) == 2
    assert_query(cloudflare.requests[0], LIST_APPLIED)
    assert_query(cloudflare.requests[1], batch("0004_add_user_names.sql", new_sql))
    assert (result.outs or {})["applied"] == [*MIGRATIONS, "0004_add_user_names.sql"]
    assert cloudflare.recorded_migrations() == [*MIGRATIONS, "0004_add_user_names.sql"]


def test_a_quote_in_a_file_name_is_recorded_verbatim(cloudflare: FakeCloudflare, tmp_path: Path) -> None:
    name = "0001_it's_fine.sql"

    migrations_provider().create(props(cloudflare, write(tmp_path / "migrations", {name: "SELECT 1;"})))

    assert_query(cloudflare.requests[1], "SELECT 1;\nINSERT INTO d1_migrations (name) VALUES ('0001_it''s_fine.sql');")
    assert cloudflare.recorded_migrations() == [name]


def test_migrations_wrangler_already_applied_are_not_applied_again(cloudflare: FakeCloudflare, tmp_path: Path) -> None:
    cloudflare.query(LIST_APPLIED)
    cloudflare.query(batch("0001_create_users.sql", MIGRATIONS["0001_create_users.sql"]))
    cloudflare.requests.clear()

    result = migrations_provider().create(props(cloudflare, write(tmp_path / "migrations", MIGRATIONS)))

    assert [request.json()["sql"] for request in cloudflare.requests[1:]] == [
        batch(name, sql) for name, sql in list(MIGRATIONS.items())[1:]
    ]
    assert (result.outs or {})["applied"] == list(MIGRATIONS)


def test_a_broken_migration_stops_the_deployment_and_leaves_nothing_of_it(
    cloudflare: FakeCloudflare, tmp_path: Path
) -> None:
    files = {"0001_create_users.sql": MIGRATIONS["0001_create_users.sql"], "0002_broken.sql": BROKEN}
    files["0003_seed_admin.sql"] = MIGRATIONS["0003_seed_admin.sql"]

    with pytest.raises(ProviderError) as failed:
        migrations_provider().create(props(cloudflare, write(tmp_path / "migrations", files)))

    message = str(failed.value)
    assert "0002_broken.sql" in message
    assert "[7500] no such table: no_such_table: SQLITE_ERROR" in message
    assert TOKEN not in message
    assert cloudflare.recorded_migrations() == ["0001_create_users.sql"]
    assert "half_done" not in cloudflare.tables()
    assert not any("admin@example.com" in request.body.decode() for request in cloudflare.requests)


def test_a_fixed_migration_applies_on_the_next_deployment(cloudflare: FakeCloudflare, tmp_path: Path) -> None:
    provider = migrations_provider()
    directory = write(tmp_path / "migrations", {"0001_broken.sql": BROKEN})
    with pytest.raises(ProviderError):
        provider.create(props(cloudflare, directory))

    fixed = "CREATE TABLE half_done (id INTEGER);\n"
    result = provider.create(props(cloudflare, write(directory, {"0001_broken.sql": fixed})))

    assert (result.outs or {})["applied"] == ["0001_broken.sql"]
    assert "half_done" in cloudflare.tables()


def test_an_applied_migration_that_was_modified_is_refused(cloudflare: FakeCloudflare, tmp_path: Path) -> None:
    provider = migrations_provider()
    directory = write(tmp_path / "migrations", MIGRATIONS)
    outs = provider.create(props(cloudflare, directory)).outs or {}
    (directory / "0001_create_users.sql").write_text("CREATE TABLE users (id INTEGER PRIMARY KEY);\n")
    write(directory, {"0004_more.sql": "CREATE TABLE more (id INTEGER);\n"})
    news = props(cloudflare, directory)
    cloudflare.requests.clear()

    with pytest.raises(ProviderError) as refused:
        provider.update(DATABASE_ID, outs, news)

    assert str(refused.value) == (
        "applied D1 migrations are append-only (0001_create_users.sql was modified): "
        "restore them and add a new migration"
    )
    [request] = cloudflare.requests
    assert_query(request, LIST_APPLIED)
    assert cloudflare.recorded_migrations() == list(MIGRATIONS)


def test_a_rollback_to_files_without_applied_migrations_warns_and_goes_ahead(
    cloudflare: FakeCloudflare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", warnings.append)
    provider = migrations_provider()
    outs = provider.create(props(cloudflare, write(tmp_path / "today", MIGRATIONS))).outs or {}
    # Last week's commit had only the first migration, and one the database never saw.
    last_week = {"0001_create_users.sql": MIGRATIONS["0001_create_users.sql"], "0002_b.sql": "SELECT 1;"}
    news = props(cloudflare, write(tmp_path / "last-week", last_week))

    checked = provider.check(outs, news)
    assert checked.failures == []
    assert provider.diff(DATABASE_ID, outs, news).changes is True
    updated = provider.update(DATABASE_ID, outs, news).outs or {}

    assert cloudflare.recorded_migrations() == [*MIGRATIONS, "0002_b.sql"]
    assert updated["applied"] == cloudflare.recorded_migrations()
    assert provider.diff(DATABASE_ID, updated, news).changes is False
    at_preview, at_deployment = warnings
    assert at_preview == at_deployment
    assert at_preview == (
        f"D1 database {DATABASE_ID} keeps migrations the files no longer have: "
        "0002_create_sessions.sql, 0003_seed_admin.sql. Schemas only move forward: "
        "a rollback leaves them applied; undo one with a new migration"
    )


def test_the_preview_already_refuses_rewritten_history(tmp_path: Path) -> None:
    olds = props_without_server(tmp_path / "old", MIGRATIONS)
    news = props_without_server(tmp_path / "new", {**MIGRATIONS, "0001_create_users.sql": "SELECT 1;"})

    [failed] = migrations_provider().check(olds, news).failures

    assert failed.property == "migrations"
    assert "0001_create_users.sql was modified" in failed.reason


def test_an_answer_lost_after_the_migration_applied_is_not_a_failure(
    cloudflare: FakeCloudflare, tmp_path: Path
) -> None:
    files = dict(list(MIGRATIONS.items())[:2])
    # The first migration's answer is lost; urllib3's retry then finds the name recorded.
    cloudflare.scripted.extend([None, Reply(502, "Bad Gateway", after_handling=True)])

    result = migrations_provider().create(props(cloudflare, write(tmp_path / "migrations", files)))

    first = batch("0001_create_users.sql", files["0001_create_users.sql"])
    assert [request.json()["sql"] for request in cloudflare.requests] == [
        LIST_APPLIED,
        first,
        first,
        LIST_APPLIED,
        batch("0002_create_sessions.sql", files["0002_create_sessions.sql"]),
    ]
    assert cloudflare.recorded_migrations() == list(files)
    assert (result.outs or {})["applied"] == list(files)


def test_rate_limit_is_retried_after_the_time_cloudflare_asks(
    cloudflare: FakeCloudflare, tmp_path: Path, sleeps: list[float]
) -> None:
    cloudflare.scripted.append(
        Reply(429, failure(971, "Please wait and consider throttling your request speed"), {"Retry-After": "3"})
    )

    result = migrations_provider().create(props(cloudflare, write(tmp_path / "migrations", MIGRATIONS)))

    assert_query(cloudflare.requests[0], LIST_APPLIED)
    assert_query(cloudflare.requests[1], LIST_APPLIED)
    assert sleeps == [3]
    assert (result.outs or {})["applied"] == list(MIGRATIONS)


def test_server_errors_are_retried(cloudflare: FakeCloudflare, tmp_path: Path, sleeps: list[float]) -> None:
    cloudflare.scripted.extend([Reply(500, failure(7500, "Internal error")), Reply(503, b"<html>unavailable</html>")])

    result = migrations_provider().create(props(cloudflare, write(tmp_path / "migrations", MIGRATIONS)))

    assert [request.json()["sql"] for request in cloudflare.requests[:3]] == [LIST_APPLIED] * 3
    # urllib3 retries the first failure at once, then backs off exponentially.
    assert sleeps == [1.0]
    assert (result.outs or {})["applied"] == list(MIGRATIONS)


def test_a_final_api_error_shows_cloudflares_message_never_the_token(
    cloudflare: FakeCloudflare, tmp_path: Path
) -> None:
    cloudflare.scripted.append(Reply(400, failure(7400, "The request is malformed: database not found")))

    with pytest.raises(Exception) as failed:
        migrations_provider().create(props(cloudflare, write(tmp_path / "migrations", MIGRATIONS)))

    message = str(failed.value)
    assert f"/accounts/{ACCOUNT_ID}/d1/database/{DATABASE_ID}/query" in message
    assert "HTTP 400" in message and "[7400] The request is malformed: database not found" in message
    assert TOKEN not in message and TOKEN not in repr(failed.value.args)
    assert len(cloudflare.requests) == 1


def test_read_reports_what_the_database_has_applied(cloudflare: FakeCloudflare, tmp_path: Path) -> None:
    provider = migrations_provider()
    inputs = props(cloudflare, write(tmp_path / "migrations", MIGRATIONS))
    outs = provider.create(inputs).outs or {}
    # The database restored from a backup taken before the last migration.
    cloudflare.database.execute("DELETE FROM d1_migrations WHERE name = '0003_seed_admin.sql'")
    cloudflare.requests.clear()

    read = provider.read(DATABASE_ID, outs)

    [request] = cloudflare.requests
    assert_query(request, LIST_APPLIED)
    assert read.id == DATABASE_ID
    assert read.outs == {**outs, "applied": ["0001_create_users.sql", "0002_create_sessions.sql"]}
    assert provider.diff(DATABASE_ID, read.outs or {}, inputs).changes is True


def test_delete_leaves_the_database_untouched(cloudflare: FakeCloudflare, tmp_path: Path) -> None:
    provider = migrations_provider()
    outs = provider.create(props(cloudflare, write(tmp_path / "migrations", MIGRATIONS))).outs or {}
    cloudflare.requests.clear()

    provider.delete(DATABASE_ID, outs)

    assert cloudflare.requests == []
    assert cloudflare.recorded_migrations() == list(MIGRATIONS)


def props_without_server(directory: Path, files: Mapping[str, str]) -> dict[str, Any]:
    return {
        "api_base": CLOUDFLARE_API_BASE,
        "account_id": ACCOUNT_ID,
        "database_id": DATABASE_ID,
        "credential_setting": SETTING,
        "migrations": read_migrations(write(directory, files)),
    }


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Any]:
    return props_without_server(tmp_path / "migrations", MIGRATIONS)


@pytest.mark.parametrize(
    ("change", "changes", "replaces"),
    [
        pytest.param({}, False, [], id="unchanged"),
        pytest.param({"credential_setting": "orchestra:otherToken"}, True, [], id="setting-is-an-update"),
        pytest.param({"api_base": "http://127.0.0.1:1/client/v4"}, True, [], id="api-base"),
        pytest.param({"account_id": Unknown()}, True, [], id="unknown-account"),
        pytest.param({"database_id": "0000-other"}, True, ["database_id"], id="database"),
        pytest.param({"database_id": Unknown()}, True, ["database_id"], id="unknown-database"),
    ],
)
def test_diff(inputs: dict[str, Any], change: dict[str, Any], changes: bool, replaces: list[str]) -> None:
    olds = {**inputs, "applied": [m["name"] for m in inputs["migrations"]]}

    result = migrations_provider().diff(DATABASE_ID, olds, {**inputs, **change})

    assert (result.changes, result.replaces) == (changes, replaces)


def test_diff_shows_a_new_migration_as_an_update(inputs: dict[str, Any], tmp_path: Path) -> None:
    olds = {**inputs, "applied": [m["name"] for m in inputs["migrations"]]}
    news = props_without_server(tmp_path / "migrations", {"0004_more.sql": "SELECT 4;"})

    result = migrations_provider().diff(DATABASE_ID, olds, news)

    assert (result.changes, result.replaces) == (True, [])


@pytest.mark.parametrize(
    ("override", "failed_property"),
    [
        ({"credential_setting": "cloudflareApiToken"}, "credential_setting"),
        ({"credential_setting": "orchestra:unset"}, "credential_setting"),
        ({"account_id": ""}, "account_id"),
        ({"database_id": None}, "database_id"),
        ({"migrations": [{"name": "0001_a.sql", "sql": "SELECT 1;", "sha256": "stale"}]}, "migrations"),
        ({"migrations": [{"name": "setup.sql", "sql": "", "sha256": hashlib.sha256(b"").hexdigest()}]}, "migrations"),
    ],
)
def test_check_rejects_malformed_inputs_without_echoing_them(
    inputs: dict[str, Any], override: dict[str, Any], failed_property: str
) -> None:
    failures = migrations_provider().check({}, {**inputs, **override}).failures

    assert [failure.property for failure in failures] == [failed_property]
    assert TOKEN not in failures[0].reason


def test_check_accepts_valid_and_not_yet_known_inputs(inputs: dict[str, Any]) -> None:
    unknowns = {**inputs, "database_id": Unknown()}

    assert migrations_provider().check(inputs, inputs).failures == []
    assert migrations_provider().check({}, unknowns).failures == []


@pulumi.runtime.test
def test_resource_registers_the_setting_not_the_token_and_the_files_as_inputs(
    monitor: RecordingMonitor, tmp_path: Path
) -> pulumi.Output[Any]:
    directory = write(tmp_path / "migrations", MIGRATIONS)
    resource = D1Migrations("tenants-migrations", ACCOUNT_ID, DATABASE_ID, SETTING, directory)

    def check(_: Any) -> None:
        [request] = [r for r in monitor.registrations if r.name == "tenants-migrations"]
        assert request.type == "pulumi-python:dynamic/cloudflare:D1Migrations"
        inputs = rpc.deserialize_properties(request.object)
        assert inputs["credential_setting"] == SETTING
        assert TOKEN not in str(inputs)
        assert inputs["database_id"] == DATABASE_ID
        assert inputs["account_id"] == ACCOUNT_ID
        assert inputs["api_base"] == CLOUDFLARE_API_BASE
        assert inputs["migrations"] == read_migrations(directory)
        # The provider is stored as a reference to its module's class, not as code.
        pickled = base64.b64decode(rpc.unwrap_rpc_secret(inputs["__provider"]))
        names = [arg for op, arg, _ in pickletools.genops(pickled) if op.name == "SHORT_BINUNICODE"]
        assert names == ["components.providers.d1_migrations", "D1MigrationsProvider"]

    return resource.urn.apply(check)


def test_after_a_rotation_every_command_uses_the_configured_token_never_the_first(
    cloudflare: FakeCloudflare, tmp_path: Path
) -> None:
    with hosted(D1MigrationsProvider(), URN, {SETTING: TOKEN}) as host:
        id_, state = host.create(host.check({}, props(cloudflare, write(tmp_path / "migrations", MIGRATIONS))))
    cloudflare.tokens = {ROTATED}  # the first token is revoked; the stack's setting holds the new one
    after_rotation = len(cloudflare.requests)
    more = {**MIGRATIONS, "0004_more.sql": "CREATE TABLE more (id INTEGER);\n"}

    with hosted(D1MigrationsProvider(), URN, {SETTING: ROTATED}) as host:
        refreshed = host.read(id_, state)
        news = host.check(refreshed, props(cloudflare, write(tmp_path / "migrations", more)))
        diff = host.diff(id_, refreshed, news)
        updated = host.update(id_, refreshed, news)
        host.delete(id_, updated)

    assert refreshed["applied"] == list(MIGRATIONS)
    assert list(diff.replaces) == []
    assert updated["applied"] == list(more)
    assert "more" in cloudflare.tables()
    assert credentials_sent(cloudflare.requests[after_rotation:]) == {f"Bearer {ROTATED}"}


def test_a_rotated_token_alone_is_no_change(inputs: dict[str, Any]) -> None:
    olds = {**inputs, "applied": [m["name"] for m in inputs["migrations"]]}

    assert migrations_provider(ROTATED).diff(DATABASE_ID, olds, inputs).changes is False


def test_without_the_setting_a_preview_says_which_setting_to_set(inputs: dict[str, Any]) -> None:
    unconfigured = configured(D1MigrationsProvider(), {})

    [failure] = unconfigured.check({}, inputs).failures

    assert failure.property == "credential_setting"
    assert failure.reason == (
        f"stack setting {SETTING} is not set: it holds this resource's credential; "
        f"set it with `pulumi config set --secret {SETTING}`"
    )


def test_the_rollback_warning_reaches_the_cli_from_the_provider_host(
    cloudflare: FakeCloudflare, tmp_path: Path
) -> None:
    urn = "urn:pulumi:dev::orchestra::pulumi-python:dynamic/cloudflare:D1Migrations::db-migrations"
    first = {"0001_create_users.sql": MIGRATIONS["0001_create_users.sql"]}
    with (tmp_path / "stderr").open("w+b") as stderr:
        with provider_host(stderr=stderr) as stub:
            host = HostedProvider(stub, D1MigrationsProvider(), urn, {SETTING: TOKEN})
            _, state = host.create(host.check({}, props(cloudflare, write(tmp_path / "today", MIGRATIONS))))
            host.check(state, props(cloudflare, write(tmp_path / "last-week", first)))
        stderr.seek(0)
        written = stderr.read().decode()

    assert (
        f"warning: D1 database {DATABASE_ID} keeps migrations the files no longer have: "
        "0002_create_sessions.sql, 0003_seed_admin.sql." in written
    )
