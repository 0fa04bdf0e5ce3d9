"""A D1 database, with its schema migrations applied on every deployment."""

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_cloudflare as cloudflare

from ..naming import D1_DATABASE, resolve_name
from ..stateful import stateful_options
from .account import CloudflareAccount
from .binding import Binding, d1_database
from .d1_migrations import D1Migrations


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
        account = args.account
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
                api_token=account.api_token,
                migrations_dir=args.migrations_dir,
                opts=pulumi.ResourceOptions(parent=self),
            )
            if args.migrations_dir is not None
            else None
        )
        self.register_outputs({"id": self.id, "name": self.name})

    def binding(self, name: str) -> Binding:
        return d1_database(name, self.id)
