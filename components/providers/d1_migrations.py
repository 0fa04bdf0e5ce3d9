"""D1 schema migrations, applied by a Pulumi dynamic provider the way `wrangler d1 migrations apply` does.

The database records what it has applied in wrangler's own `d1_migrations`
table, so wrangler and this resource agree on what is applied. Each pending
migration travels in one query together with its `INSERT INTO d1_migrations`:
D1 runs a multi-statement query as one batch, and a failing statement rolls
the whole batch back, so a broken migration applies nothing and records
nothing. Applied migrations are append-only: changing one is refused, at
preview when the previous inputs show it, and always at deployment. Schemas
only move forward: applied migrations that the files no longer have (after a
rollback to an earlier commit) stay applied and are reported as a warning
naming them, so the rollback itself goes ahead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, TypeGuard

from pulumi import Input, Output, ResourceOptions, log
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from .cloudflare_api import CLOUDFLARE_API_BASE, call
from .provider import CREDENTIAL_SETTING, ConfiguredProvider, ProviderError, changed, non_empty_failures

# wrangler's table and schema, so either tool can pick up where the other left off.
_ENSURE_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS d1_migrations ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "name TEXT UNIQUE, "
    "applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);"
)
_LIST_APPLIED = f"{_ENSURE_MIGRATIONS_TABLE}\nSELECT name FROM d1_migrations ORDER BY id;"

# wrangler orders migrations by the number before the first underscore.
_MIGRATION_FILE_NAME = re.compile(r"(\d+)_.*\.sql")


class Migration(TypedDict):
    name: str
    sql: str
    sha256: str


def read_migrations(directory: str | Path) -> list[Migration]:
    """The `*.sql` files of `directory` in wrangler's order: by the number that starts each name
    (`0002_add_users.sql`), then by name, so equal numbers order alike on every machine."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ValueError(f"D1 migrations directory {folder} does not exist")
    numbered: list[tuple[int, str, Path]] = []
    for path in folder.glob("*.sql"):
        match = _MIGRATION_FILE_NAME.fullmatch(path.name)
        if match is None:
            raise ValueError(f"{path}: D1 migration files are named <number>_<description>.sql")
        numbered.append((int(match.group(1)), path.name, path))
    migrations: list[Migration] = []
    for _, name, path in sorted(numbered):
        # Universal newlines: a CRLF checkout hashes like an LF one, so an applied
        # migration does not look modified on another machine.
        sql = path.read_text(encoding="utf-8")
        migrations.append({"name": name, "sql": sql, "sha256": _sha256(sql)})
    return migrations


class D1MigrationsProvider(ConfiguredProvider):
    """Applies pending migrations on create and update."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [*_check_failures(olds, news), *self.credential_failures(news)]
        if not failures:
            _warn_of_removed(news, [migration["name"] for migration in olds.get("migrations") or []])
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        applied = self._apply_pending(props, recorded={})
        return CreateResult(str(props["database_id"]), _outputs(props, applied))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = changed(olds, news, ["database_id"])
        changes = (
            bool(replaces)
            or bool(changed(olds, news, ["api_base", "account_id", CREDENTIAL_SETTING, "migrations"]))
            # After a refresh, `applied` is what the database says: a restored or
            # recreated database shows here and the update applies what it lacks.
            # Applied migrations the files no longer have are no change: they stay.
            or not {migration["name"] for migration in news["migrations"]} <= set(olds.get("applied") or [])
        )
        return DiffResult(changes=changes, replaces=replaces)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        applied = self._apply_pending(news, recorded=_hashes(olds.get("migrations") or []))
        return UpdateResult(_outputs(news, applied))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {**props, "applied": self._list_applied(props)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Leaves the database untouched. The schema and its data belong to the D1
        database's own resource; undoing migrations would destroy data, and delete
        also runs after a replacement has migrated the new database."""

    def _apply_pending(self, props: Mapping[str, Any], recorded: Mapping[str, str]) -> list[str]:
        """Applies, in order, each migration the database has not recorded; returns all recorded names.
        `recorded` maps the names this resource applied before to their content hashes."""
        applied = self._list_applied(props)
        migrations: list[Migration] = props["migrations"]
        violations = _modified(migrations, recorded)
        if violations:
            raise ProviderError(_append_only_message(violations))
        _warn_of_removed(props, [*applied, *recorded])
        for migration in migrations:
            if migration["name"] not in applied:
                self._apply(props, migration)
                applied.append(migration["name"])
        return applied

    def _apply(self, props: Mapping[str, Any], migration: Migration) -> None:
        name = migration["name"]
        # As wrangler does: the record joins the migration's own batch. The newline
        # ends a `--` comment on the file's last line.
        batch = f"{migration['sql']}\nINSERT INTO d1_migrations (name) VALUES ({_sql_text(name)});"
        try:
            self._query(props, batch)
        except ProviderError as error:
            # A retry of a batch whose answer was lost fails on the recorded name,
            # yet the first attempt did apply it.
            if name in self._list_applied(props):
                return
            raise ProviderError(f"D1 migration {name} failed; none of it was applied: {error}") from None

    def _list_applied(self, props: Mapping[str, Any]) -> list[str]:
        *_, listing = self._query(props, _LIST_APPLIED)
        return [str(row["name"]) for row in listing["results"]]

    def _query(self, props: Mapping[str, Any], sql: str) -> list[dict[str, Any]]:
        """Each statement's result, in order. D1 runs the statements of `sql` as one batch."""
        path = f"/accounts/{props['account_id']}/d1/database/{props['database_id']}/query"
        results: list[dict[str, Any]] = call("POST", str(props["api_base"]), path, self.credential(props), {"sql": sql})
        return results


class D1Migrations(Resource, module="cloudflare", name="D1Migrations"):
    """The `*.sql` files of `migrations_dir`, applied to a D1 database in order, each exactly once.

    A new file is applied on the next `pulumi up`; a failing one stops the
    deployment, naming the file and D1's error, and leaves nothing of it applied.
    """

    database_id: Output[str]
    applied: Output[list[str]]
    """Names recorded in the database's `d1_migrations` table, in the order they were applied."""

    def __init__(
        self,
        name: str,
        account_id: Input[str],
        database_id: Input[str],
        credential_setting: str,
        migrations_dir: str | Path,
        opts: ResourceOptions | None = None,
        *,
        api_base: Input[str] = CLOUDFLARE_API_BASE,
    ) -> None:
        """`credential_setting` names the stack setting (`<namespace>:<key>`) holding the API token.
        `migrations_dir` is read now, while the program runs (relative paths from the project
        directory), so a new or changed file shows in the preview. `api_base` is Cloudflare's
        API root; tests point it at a local server."""
        super().__init__(
            D1MigrationsProvider(),
            name,
            {
                "api_base": api_base,
                "account_id": account_id,
                "database_id": database_id,
                CREDENTIAL_SETTING: credential_setting,
                "migrations": read_migrations(migrations_dir),
                "applied": None,
            },
            opts,
        )


def _modified(migrations: Sequence[Migration], recorded: Mapping[str, str]) -> list[str]:
    """Applied migrations whose file's content differs from the hash recorded when this resource applied them."""
    files = _hashes(migrations)
    return [f"{name} was modified" for name, digest in recorded.items() if name in files and files[name] != digest]


def _append_only_message(violations: Sequence[str]) -> str:
    return f"applied D1 migrations are append-only ({'; '.join(violations)}): restore them and add a new migration"


def _warn_of_removed(props: Mapping[str, Any], applied: Sequence[str]) -> None:
    """Names the applied migrations the files no longer have: a rollback leaves them applied."""
    files = _hashes(props["migrations"])
    removed = [name for name in dict.fromkeys(applied) if name not in files]
    database = props["database_id"]
    # In a preview of a new database its id is not known yet.
    which = f"D1 database {database}" if isinstance(database, str) else "The D1 database"
    if removed:
        log.warn(
            f"{which} keeps migrations the files no longer have: {', '.join(removed)}. "
            "Schemas only move forward: a rollback leaves them applied; undo one with a new migration"
        )


def _outputs(props: Mapping[str, Any], applied: list[str]) -> dict[str, Any]:
    return {
        "api_base": props["api_base"],
        "account_id": props["account_id"],
        "database_id": props["database_id"],
        CREDENTIAL_SETTING: props[CREDENTIAL_SETTING],
        "migrations": props["migrations"],
        "applied": applied,
    }


def _hashes(migrations: Sequence[Migration]) -> dict[str, str]:
    return {migration["name"]: migration["sha256"] for migration in migrations}


def _sha256(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def _sql_text(value: str) -> str:
    """A SQL string literal: the name is spliced into the batch because bound
    parameters cannot address one statement among several."""
    return "'" + value.replace("'", "''") + "'"


def _check_failures(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[CheckFailure]:
    # Values still unknown (computed later in a preview) are checked at update.
    failures = non_empty_failures(news, ("account_id", "database_id"))
    migrations = news.get("migrations")
    if not _well_formed(migrations):
        failures.append(
            CheckFailure("migrations", "must be distinct <number>_<name>.sql files, each with its SQL and its sha256")
        )
        return failures
    violations = _modified(migrations, _hashes(olds.get("migrations") or []))
    if violations:
        failures.append(CheckFailure("migrations", _append_only_message(violations)))
    return failures


def _well_formed(migrations: Any) -> TypeGuard[list[Migration]]:
    return (
        isinstance(migrations, list)
        and all(
            isinstance(m, dict)
            and isinstance(m.get("name"), str)
            and _MIGRATION_FILE_NAME.fullmatch(m["name"]) is not None
            and isinstance(m.get("sql"), str)
            and m.get("sha256") == _sha256(m["sql"])
            for m in migrations
        )
        and len({m["name"] for m in migrations}) == len(migrations)
    )
