"""One row of a D1 table kept in step with the program, by a Pulumi dynamic provider over D1's query API.

Each write is one upsert keyed on `key_column`, so creating a row that
already exists (an earlier attempt whose answer was lost, a row written by
hand) takes it over instead of failing, and replaying a write leaves the row
as one write would. Values always travel as bound parameters, and as strings,
the only type D1's documented `params` takes; only the table and column names,
checked to be plain identifiers, are spliced into the SQL.

Deleting must not remove a row that something else has since written. Two
cases matter:
- Pulumi replaces a resource by creating the new one first and deleting the
  old one last (unless the provider asks to delete first). When the new and
  old identities can name the same row (only the table name's case, the key's
  case or the key column changed), this provider asks to delete first.
- A row another resource took over (an instance moved to a file with another
  resource name) is upserted by the new resource before Pulumi deletes the
  removed one. With an `updated_at_column`, each write records the stamp it
  left, and delete removes the row only while that stamp is still there;
  without one, delete can only go by the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi import Input, Output, ResourceOptions
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
from .provider import CREDENTIAL_SETTING, ConfiguredProvider, ProviderError, changed, is_known, non_empty_failures

RowValue = str | int | None

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Millisecond ISO 8601 in UTC, as the registry schema's column defaults write it.
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
# Changing any of these addresses another row: the old one is deleted, the new one written.
_IDENTITY = ("account_id", "database_id", "table", "key_column", "key")


class D1RowProvider(ConfiguredProvider):
    """Upserts, reads and deletes one row."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [*_check_failures(news), *self.credential_failures(news)])

    def create(self, props: dict[str, Any]) -> CreateResult:
        outputs = self._upsert(props)
        return CreateResult(f"{props['database_id']}/{props['table']}/{props['key']}", outputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = changed(olds, news, _IDENTITY)
        changes = (
            bool(replaces)
            or bool(changed(olds, news, ["api_base", CREDENTIAL_SETTING, "updated_at_column"]))
            or not _same_values(olds.get("values"), news.get("values"))
        )
        return DiffResult(
            changes=changes,
            replaces=replaces,
            delete_before_replace=bool(replaces) and _may_name_the_same_row(olds, news),
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._upsert(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Refresh records what the row holds; diff then compares it with the program's values.
        table, key_column, stamp_column = _names(props)
        columns = [_name(column) for column in props["values"]]
        selected = ", ".join([key_column, *columns, *([stamp_column] if stamp_column else [])])
        select = f"SELECT {selected} FROM {table} WHERE {key_column} = ?;"  # noqa: S608 - names checked, key bound
        rows = self._query(props, select, [str(props["key"])])
        if not rows:
            return ReadResult(None, {})  # deleted outside Pulumi: refresh drops it from the state
        [row] = rows
        live = {column: row[column] for column in columns}
        return ReadResult(id_, {**props, "values": live, "updated_at": row[stamp_column] if stamp_column else None})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Removes the row if this resource's last write is still there; a missing row is fine."""
        table, key_column, stamp_column = _names(props)
        where, params = f"{key_column} = ?", [str(props["key"])]
        stamp = props.get("updated_at")
        if stamp_column and stamp is not None:
            where += f" AND {stamp_column} = ?"
            params.append(str(stamp))
        self._query(props, f"DELETE FROM {table} WHERE {where};", params)  # noqa: S608 - names checked, values bound

    def _upsert(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Writes the row and returns the resource's outputs, with the stamp the write left."""
        table, key_column, stamp_column = _names(props)
        values = {_name(column): _whole(value) for column, value in props["values"].items()}
        value_markers = ["?", *(_value_marker(value) for value in values.values())]
        params = [str(props["key"]), *(str(value) for value in values.values() if value is not None)]
        written = [key_column, *values]
        if stamp_column:
            written.append(stamp_column)
            value_markers.append(_NOW)
        updates = ", ".join(f"{column} = excluded.{column}" for column in written[1:])
        on_conflict = f"ON CONFLICT ({key_column}) " + (f"DO UPDATE SET {updates}" if updates else "DO NOTHING")
        columns, bound = ", ".join(written), ", ".join(value_markers)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({bound}) {on_conflict}"  # noqa: S608 - names checked, values bound
        if stamp_column:
            [row] = self._query(props, f"{sql} RETURNING {stamp_column};", params)
            stamp = row[stamp_column]
        else:
            self._query(props, f"{sql};", params)
            stamp = None
        return {
            "api_base": props["api_base"],
            "account_id": props["account_id"],
            "database_id": props["database_id"],
            CREDENTIAL_SETTING: props[CREDENTIAL_SETTING],
            "table": props["table"],
            "key_column": key_column,
            "key": props["key"],
            "values": values,
            "updated_at_column": stamp_column,
            "updated_at": stamp,
        }

    def _query(self, props: Mapping[str, Any], sql: str, params: list[str]) -> list[dict[str, Any]]:
        """The rows of one statement."""
        path = f"/accounts/{props['account_id']}/d1/database/{props['database_id']}/query"
        body = {"sql": sql, "params": params}
        [result] = call("POST", str(props["api_base"]), path, self.credential(props), body)
        rows: list[dict[str, Any]] = result["results"]
        return rows


class D1Row(Resource, module="cloudflare", name="D1Row"):
    """The row of `table` whose `key_column` is `key`, holding `values` (column to value).

    Created with the resource, rewritten when `values` change, deleted with it.
    Changing the database, table, key column or key moves the row: the new one
    is written and the old one deleted. Columns not in `values` are left as
    they are; `key_column` needs a PRIMARY KEY or UNIQUE constraint.
    """

    table: Output[str]
    key: Output[str]
    values: Output[dict[str, RowValue]]
    """What the row holds, as of the last write or refresh."""
    updated_at: Output[str | None]
    """The `updated_at_column` stamp of the last write or refresh; None without that column."""

    def __init__(
        self,
        name: str,
        account_id: Input[str],
        database_id: Input[str],
        credential_setting: str,
        table: str,
        key_column: str,
        key: Input[str],
        values: Input[Mapping[str, Input[RowValue]]],
        opts: ResourceOptions | None = None,
        *,
        updated_at_column: str | None = "updated_at",
        api_base: Input[str] = CLOUDFLARE_API_BASE,
    ) -> None:
        """`credential_setting` names the stack setting (`<namespace>:<key>`) holding the API
        token. `updated_at_column` is set to the time of each write (UTC, ISO 8601 with
        milliseconds); None for a table without one. `api_base` is Cloudflare's API root;
        tests point it at a local server."""
        super().__init__(
            D1RowProvider(),
            name,
            {
                "api_base": api_base,
                "account_id": account_id,
                "database_id": database_id,
                CREDENTIAL_SETTING: credential_setting,
                "table": table,
                "key_column": key_column,
                "key": key,
                "values": values,
                "updated_at_column": updated_at_column,
                "updated_at": None,
            },
            opts,
        )


def _value_marker(value: RowValue) -> str:
    # D1 documents its params as strings: a number travels as text and is cast back,
    # and NULL needs no parameter.
    if value is None:
        return "NULL"
    return "CAST(? AS INTEGER)" if isinstance(value, int) else "?"


def _whole(value: Any) -> Any:
    """Pulumi carries every number as a double, so 3 arrives as 3.0."""
    return int(value) if isinstance(value, float) else value


def _names(props: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """The table, key column and updated_at column (or None), ready to splice into SQL."""
    stamp_column = props.get("updated_at_column")
    return _name(props["table"]), _name(props["key_column"]), _name(stamp_column) if stamp_column else None


def _name(identifier: str) -> str:
    """`identifier`, checked again where it is spliced into SQL. Deliberately not quoted:
    SQLite reads an unknown "quoted" name in an expression as a string, which would turn
    a misspelt key column into a row that is never found rather than an error."""
    if not _is_identifier(identifier):
        raise ProviderError(f"{identifier!r} is not a plain SQL identifier")
    return identifier


def _same_values(old: Any, new: Any) -> bool:
    if not isinstance(new, dict) or not all(is_known(value) for value in new.values()):
        return False
    return isinstance(old, dict) and old == new


def _may_name_the_same_row(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """SQLite matches table names regardless of case, and a key column may too (COLLATE NOCASE)."""
    if not all(is_known(news.get(key)) for key in _IDENTITY):
        return True
    return (
        olds.get("account_id") == news.get("account_id")
        and olds.get("database_id") == news.get("database_id")
        and str(olds.get("table")).casefold() == str(news.get("table")).casefold()
        and str(olds.get("key")).casefold() == str(news.get("key")).casefold()
    )


def _check_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
    # Values still unknown (computed later in a preview) are checked at update.
    known = is_known
    failures = non_empty_failures(news, ("account_id", "database_id", "key"))
    identifier = "must be a plain SQL identifier: a letter or _, then letters, digits or _"
    for key in ("table", "key_column"):
        if not _is_identifier(news.get(key)):
            failures.append(CheckFailure(key, identifier))
    stamp_column = news.get("updated_at_column")
    if stamp_column is not None and not _is_identifier(stamp_column):
        failures.append(CheckFailure("updated_at_column", f"{identifier}, or None"))
    values = news.get("values")
    if not known(values):
        return failures
    if not isinstance(values, dict):
        failures.append(CheckFailure("values", "must map column names to values"))
        return failures
    # SQL names are case-insensitive: `Org` and `org` are one column.
    taken = {str(name).casefold() for name in (news.get("key_column"), stamp_column) if name}
    for column, value in values.items():
        if not _is_identifier(column):
            failures.append(CheckFailure("values", f"column {column!r} {identifier}"))
        elif column.casefold() in taken:
            failures.append(
                CheckFailure("values", f"column {column} is named twice, or is the key or updated_at column")
            )
        taken.add(str(column).casefold())
        if known(value) and not _is_row_value(value):
            failures.append(CheckFailure("values", f"{column} must be a string, a whole number or None"))
    return failures


def _is_identifier(value: Any) -> bool:
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None


def _is_row_value(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return value is None or isinstance(value, str | int) or (isinstance(value, float) and value.is_integer())
