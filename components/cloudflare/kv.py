"""A Workers KV namespace."""

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from ..naming import KV_NAMESPACE_TITLE, physical_name
from ..stateful import stateful_options
from .account import CloudflareAccount
from .binding import Binding, kv_namespace


@dataclass(frozen=True)
class KvNamespaceArgs:
    account: CloudflareAccount
    protect: bool = True
    """`protect`/`retain_on_delete`; on unless a stack turns it off."""


class KvNamespace(pulumi.ComponentResource):
    namespace: cloudflare.WorkersKvNamespace
    id: pulumi.Output[str]

    def __init__(self, name: str, args: KvNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:cloudflare:KvNamespace", name, None, opts)
        self.namespace = cloudflare.WorkersKvNamespace(
            name,
            account_id=args.account.account_id,
            title=physical_name(name, KV_NAMESPACE_TITLE),
            opts=stateful_options(args.protect, pulumi.ResourceOptions(parent=self, provider=args.account.provider)),
        )
        self.id = self.namespace.id
        self.register_outputs({"id": self.id})

    def binding(self, name: str) -> Binding:
        return kv_namespace(name, self.id)
