"""A Cloudflare account: the one provider, and the one API token, every Cloudflare block uses."""

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare


@dataclass(frozen=True)
class CloudflareAccountArgs:
    account_id: str
    api_token: pulumi.Input[str]
    """Wrapped as a Pulumi secret here whatever it arrives as, so it never shows in plain text."""
    api_token_setting: str
    """The stack setting (`<namespace>:<key>`) that holds `api_token`. The dynamic providers read the
    token from it in each command, refresh and destroy included, so they never store it."""
    workers_dev_subdomain: str | None = None
    """The account's `<subdomain>.workers.dev`, without `.workers.dev`; the provider has no lookup for it.
    Without it, workers served only on workers.dev have no `url`."""


class CloudflareAccount(pulumi.ComponentResource):
    """An explicit `cloudflare.Provider` holding the token. Blocks create their resources with
    `provider=account.provider` and give the dynamic providers `account.api_token_setting`, so the
    token is configured once and no resource falls back to ambient credentials."""

    provider: cloudflare.Provider
    account_id: str
    api_token: pulumi.Output[str]
    api_token_setting: str
    workers_dev_subdomain: str | None

    def __init__(self, name: str, args: CloudflareAccountArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:cloudflare:Account", name, None, opts)
        if not args.account_id:
            raise ValueError(f"Cloudflare account {name}: account_id is empty")
        self.account_id = args.account_id
        self.api_token = pulumi.Output.secret(args.api_token)
        self.api_token_setting = args.api_token_setting
        self.workers_dev_subdomain = args.workers_dev_subdomain
        self.provider = cloudflare.Provider(name, api_token=self.api_token, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"account_id": self.account_id})
