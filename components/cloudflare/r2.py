"""An R2 bucket."""

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_cloudflare as cloudflare

from ..naming import R2_BUCKET, resolve_name
from ..stateful import stateful_options
from .account import CloudflareAccount
from .binding import Binding, r2_bucket

# R2's location hints (developers.cloudflare.com/r2/reference/data-location/).
LocationHint = Literal["apac", "eeur", "enam", "weur", "wnam", "oc"]


@dataclass(frozen=True)
class R2BucketArgs:
    account: CloudflareAccount
    location: LocationHint | None = None
    """Where R2 should keep the data; honoured only when the bucket is first created. By default
    R2 places it near the first request."""
    protect: bool = True
    """`protect`/`retain_on_delete`; on unless a stack turns it off."""
    bucket_name: str | None = None
    """A name chosen by hand, used as written; by default the naming function's `<project>-<name>-<stack>`."""


class R2Bucket(pulumi.ComponentResource):
    bucket: cloudflare.R2Bucket
    name: pulumi.Output[str]

    def __init__(self, name: str, args: R2BucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:cloudflare:R2Bucket", name, None, opts)
        self.bucket = cloudflare.R2Bucket(
            name,
            account_id=args.account.account_id,
            name=resolve_name(name, args.bucket_name, R2_BUCKET),
            location=args.location,
            opts=stateful_options(args.protect, pulumi.ResourceOptions(parent=self, provider=args.account.provider)),
        )
        self.name = self.bucket.name
        self.register_outputs({"name": self.name})

    def binding(self, name: str) -> Binding:
        return r2_bucket(name, self.name)
