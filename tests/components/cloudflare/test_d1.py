from pathlib import Path

import pulumi
import pytest

from components.cloudflare.d1 import D1Database, D1DatabaseArgs
from tools.offline_plan import Plan, evaluate

from .blocks import ACCOUNT_ID, SETTING, STACKS, account, children, token_never_shown, uses_account_provider

COMPONENT = "orchestra:cloudflare:D1Database"
DATABASE = "cloudflare:index/d1Database:D1Database"
MIGRATIONS = "pulumi-python:dynamic/cloudflare:D1Migrations"
ROW = "pulumi-python:dynamic/cloudflare:D1Row"


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    (tmp_path / "0001_create_users.sql").write_text("CREATE TABLE users (id INTEGER PRIMARY KEY);\n")
    (tmp_path / "0002_add_email.sql").write_text("ALTER TABLE users ADD COLUMN email TEXT;\n")
    return tmp_path


def plan_database(
    migrations_dir: Path | None, stack: str = "dev", protect: bool = False, database_name: str | None = None
) -> Plan:
    def program() -> None:
        database = D1Database(
            "registry",
            D1DatabaseArgs(account(), migrations_dir=migrations_dir, protect=protect, database_name=database_name),
        )
        pulumi.export("id", database.id)
        pulumi.export("name", database.name)

    return evaluate(program, stack=stack)


@pytest.mark.parametrize(("stack", "protect"), STACKS)
def test_database_and_its_migrations(migrations_dir: Path, stack: str, protect: bool) -> None:
    plan = plan_database(migrations_dir, stack=stack, protect=protect)
    assert children(plan, COMPONENT, "registry") == [(DATABASE, "registry"), (MIGRATIONS, "registry-migrations")]
    database = plan.one(DATABASE, "registry")
    assert database.inputs == {"accountId": ACCOUNT_ID, "name": f"orchestra-registry-{stack}"}
    assert uses_account_provider(plan, database)
    assert (database.protect, database.retain_on_delete) == (protect, protect)

    migrations = plan.one(MIGRATIONS, "registry-migrations")
    assert migrations.inputs["account_id"] == ACCOUNT_ID
    assert migrations.inputs["database_id"] == "registry-id"
    assert migrations.inputs["credential_setting"] == SETTING
    assert [m["name"] for m in migrations.inputs["migrations"]] == ["0001_create_users.sql", "0002_add_email.sql"]
    assert database.urn in migrations.dependencies
    # The migrations resource holds no data: deleting it leaves the database as it is.
    assert (migrations.protect, migrations.retain_on_delete) == (False, False)
    assert plan.outputs == {"id": "registry-id", "name": f"orchestra-registry-{stack}"}
    assert token_never_shown(plan)


def test_without_a_migrations_directory_there_is_only_the_database() -> None:
    plan = plan_database(None)
    assert children(plan, COMPONENT, "registry") == [(DATABASE, "registry")]


def test_a_name_chosen_by_hand_is_used_as_written(migrations_dir: Path) -> None:
    plan = plan_database(migrations_dir, database_name="multiagent_system")
    assert plan.one(DATABASE, "registry").inputs["name"] == "multiagent_system"
    with pytest.raises(ValueError, match="D1 database name 'multiagent system' must be made of"):
        plan_database(migrations_dir, database_name="multiagent system")


def test_a_missing_migrations_directory_stops_the_program(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"D1 migrations directory .* does not exist"):
        plan_database(tmp_path / "missing")


def test_a_row_is_written_with_the_accounts_token_once_the_schema_is_migrated(migrations_dir: Path) -> None:
    def program() -> None:
        database = D1Database("registry", D1DatabaseArgs(account(), migrations_dir=migrations_dir))
        database.row("acme-entry", "instances", "instance_id", "acme", {"org_id": "acme"})

    plan = evaluate(program)
    row = plan.one(ROW, "acme-entry")
    inputs = {key: value for key, value in row.inputs.items() if key != "__provider"}
    assert inputs == {
        "api_base": "https://api.cloudflare.com/client/v4",
        "account_id": ACCOUNT_ID,
        "database_id": "registry-id",
        "credential_setting": SETTING,
        "table": "instances",
        "key_column": "instance_id",
        "key": "acme",
        "values": {"org_id": "acme"},
        "updated_at_column": "updated_at",
    }
    assert plan.one(MIGRATIONS, "registry-migrations").urn in row.dependencies
    assert token_never_shown(plan)


def test_without_migrations_a_row_waits_for_the_database() -> None:
    def program() -> None:
        database = D1Database("registry", D1DatabaseArgs(account(), migrations_dir=None))
        database.row("acme-entry", "instances", "instance_id", "acme", {"org_id": "acme"})

    plan = evaluate(program)
    assert plan.one(DATABASE, "registry").urn in plan.one(ROW, "acme-entry").dependencies
