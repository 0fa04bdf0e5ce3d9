"""A D1 database, with its schema migrations applied on every deployment and rows kept in step."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_cloudflare as cloudflare

from ..naming import D1_DATABASE, resolve_name
from ..providers.d1_migrations import D1Migrations
from ..providers.d1_row import D1Row, RowValue
from ..stateful import stateful_options
from .account import CloudflareAccount
from .binding import Binding, d1_database


@dataclass(frozen=True)
class D1DatabaseArgs:
    account: CloudflareAccount
    migrations_dir: Path | None
    """wrangler-style `<number>_<name>.sql` files, applied in order, each once; None for no schema."""
    protect: bool = True
    """`protect`/`retain_on_delete` on the database; on unless a stack turns it off."""
    database_name: str | None = None
    """A name chosen by hand, used as written; by default the naming function's `<project>-<name>-<stack>`."""


class D1Database(pulumi.ComponentResource):
    """`cloudflare.D1Database` + the `D1Migrations` that bring its schema up to date. Only the
    database is protected: the migrations resource holds no data, and deleting it changes nothing."""

    database: cloudflare.D1Database
    migrations: D1Migrations | None
    id: pulumi.Output[str]
    """The database's UUID (the provider's `id` is the UUID)."""
    name: pulumi.Output[str]

    def __init__(self, name: str, args: D1DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:cloudflare:D1Database", name, None, opts)
        self._account = account = args.account
        self.database = cloudflare.D1Database(
            name,
            account_id=account.account_id,
            name=resolve_name(name, args.database_name, D1_DATABASE),
            opts=stateful_options(args.protect, pulumi.ResourceOptions(parent=self, provider=account.provider)),
        )
        self.id = self.database.id
        self.name = self.database.name
        self.migrations = (
            D1Migrations(
                f"{name}-migrations",
                account_id=account.account_id,
                database_id=self.id,
                credential_setting=account.api_token_setting,
                migrations_dir=args.migrations_dir,
                opts=pulumi.ResourceOptions(parent=self),
            )
            if args.migrations_dir is not None
            else None
        )
        self.register_outputs({"id": self.id, "name": self.name})

    def binding(self, name: str) -> Binding:
        return d1_database(name, self.id)

    def row(
        self,
        name: str,
        table: str,
        key_column: str,
        key: pulumi.Input[str],
        values: pulumi.Input[Mapping[str, pulumi.Input[RowValue]]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> D1Row:
        """The row of `table` whose `key_column` is `key`, holding `values`, written with the account's
        token once the schema is migrated, and deleted with the resource (see `D1Row`). `opts` places
        it, e.g. under the component that owns the row."""
        after_schema = pulumi.ResourceOptions(depends_on=[self.migrations] if self.migrations else [self.database])
        return D1Row(
            name,
            account_id=self._account.account_id,
            database_id=self.id,
            credential_setting=self._account.api_token_setting,
            table=table,
            key_column=key_column,
            key=key,
            values=values,
            opts=pulumi.ResourceOptions.merge(opts, after_schema),
        )
