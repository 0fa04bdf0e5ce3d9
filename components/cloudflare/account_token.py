"""An account-owned API token with named permissions on this account only: what a CI job deploying
workers gets instead of the token this program runs with."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from ..naming import CLOUDFLARE_TOKEN_NAME, physical_name
from .account import CloudflareAccount

# What `wrangler deploy` of workers with D1, KV and R2 bindings needs, and `wrangler tail` to watch them.
WORKERS_DEPLOY_PERMISSIONS = (
    "Account Settings Read",
    "Workers Scripts Write",
    "Workers KV Storage Write",
    "Workers R2 Storage Write",
    "D1 Write",
    "Workers Tail Read",
)


@dataclass(frozen=True)
class AccountTokenArgs:
    account: CloudflareAccount
    permissions: Sequence[str] = WORKERS_DEPLOY_PERMISSIONS
    """Permission group names as the dashboard shows them; resolved to their ids in the account."""


class AccountToken(pulumi.ComponentResource):
    """`cloudflare.AccountToken` with one allow policy over the account. The program's own token
    needs `Account API Tokens Write` to create it."""

    value: pulumi.Output[str]
    """The token, a Pulumi secret."""

    def __init__(self, name: str, args: AccountTokenArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:cloudflare:AccountToken", name, None, opts)
        if not args.permissions or len(set(args.permissions)) != len(args.permissions):
            raise ValueError(f"account token {name}: permissions must be distinct names, at least one")
        account = args.account
        permissions = list(args.permissions)
        # One unfiltered listing: the `name` filter wants URL-encoded names, and an empty answer
        # for a name with spaces would stop the preview.
        groups = cloudflare.get_account_api_token_permission_groups_list_output(
            account_id=account.account_id, opts=pulumi.InvokeOutputOptions(parent=self, provider=account.provider)
        ).apply(lambda found: _group_ids(name, permissions, found))
        token = cloudflare.AccountToken(
            name,
            account_id=account.account_id,
            name=physical_name(name, CLOUDFLARE_TOKEN_NAME),
            policies=[
                cloudflare.AccountTokenPolicyArgs(
                    effect="allow",
                    permission_groups=groups.apply(
                        lambda ids: [cloudflare.AccountTokenPolicyPermissionGroupArgs(id=group) for group in ids]
                    ),
                    resources=json.dumps({f"com.cloudflare.api.account.{account.account_id}": "*"}),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, provider=account.provider),
        )
        self.value = pulumi.Output.secret(token.value)
        self.register_outputs({})


def _group_ids(
    token: str, permissions: list[str], found: cloudflare.GetAccountApiTokenPermissionGroupsListResult
) -> list[str]:
    """The id of each named group, in order, matched by exact name."""
    # `pulumi.get` reads the output type's fields as the SDK's own getters do.
    by_name: dict[str, list[str]] = {}
    for group in found.results:
        by_name.setdefault(str(pulumi.get(group, "name")), []).append(str(pulumi.get(group, "id")))
    missing = [permission for permission in permissions if len(by_name.get(permission, [])) != 1]
    if missing:
        named = ", ".join(repr(permission) for permission in missing)
        raise ValueError(f"account token {token}: Cloudflare has no permission group named {named}")
    return [by_name[permission][0] for permission in permissions]
