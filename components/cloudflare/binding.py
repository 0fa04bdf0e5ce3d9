"""Binding: how a resource gives a worker access to itself.

A resource that can be bound returns a `Binding` from a method
(`database.binding("DB")`, `worker.service_binding("RATE_LIMITER")`); values
that are not resources come from the functions below (`secret_text`,
`json_value`...). The worker sends the entries as they are, so the type
string and field names of each kind of binding are spelled once, here, as
Cloudflare's script upload metadata spells them
(developers.cloudflare.com/workers/configuration/multipart-upload-metadata/#bindings).
Each entry also sets every field Cloudflare fills in when the script is read
back, so an unchanged stack previews no change after `pulumi refresh`.
"""

import re
from dataclasses import dataclass
from typing import Literal, cast

import pulumi
import pulumi_cloudflare as cloudflare

# What the `env.NAME` of a worker can be: a JavaScript identifier.
_BINDING_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

# Cloudflare answers a read of a service binding with the environment it calls; left out of the
# upload, every refresh would show it as a change (terraform-provider-cloudflare #7281).
SERVICE_ENVIRONMENT = "production"

RateLimitPeriod = Literal[10, 60]
RATE_LIMIT_PERIODS: tuple[RateLimitPeriod, ...] = (10, 60)


@dataclass(frozen=True)
class Binding:
    """One entry of a worker's `bindings`, exactly as the upload sends it."""

    entry: cloudflare.WorkerVersionBindingArgs
    secret: bool = False
    """The entry holds a secret; it travels as a Pulumi secret and the worker keeps its bindings secret in the state."""

    def __post_init__(self) -> None:
        name = self.entry.name
        if not isinstance(name, str) or not _BINDING_NAME.fullmatch(name):
            raise ValueError(f"binding name {name!r} is not a JavaScript identifier")

    @property
    def name(self) -> str:
        return cast(str, self.entry.name)

    @property
    def type(self) -> str:
        return cast(str, self.entry.type)


def workers_ai(name: str) -> Binding:
    return Binding(cloudflare.WorkerVersionBindingArgs(name=name, type="ai"))


def plain_text(name: str, value: pulumi.Input[str]) -> Binding:
    return Binding(cloudflare.WorkerVersionBindingArgs(name=name, type="plain_text", text=value))


def json_value(name: str, value: object) -> Binding:
    """`value` (which may hold outputs) as JSON text with sorted keys, so equal values send equal text."""
    text = pulumi.Output.json_dumps(value, sort_keys=True, separators=(",", ":"))
    return Binding(cloudflare.WorkerVersionBindingArgs(name=name, type="json", json=text))


def secret_text(name: str, value: pulumi.Input[str]) -> Binding:
    """Wrapped as a Pulumi secret here whatever it arrives as."""
    return Binding(
        cloudflare.WorkerVersionBindingArgs(name=name, type="secret_text", text=pulumi.Output.secret(value)),
        secret=True,
    )


def rate_limit(name: str, namespace_id: str, limit: int, period: RateLimitPeriod) -> Binding:
    """A Workers Rate Limiting binding: at most `limit` calls per key every `period` seconds.
    `namespace_id` is a positive integer, as text, unique in the account."""
    if not namespace_id.isdigit() or int(namespace_id) == 0:
        raise ValueError(f"rate limit {name}: namespace_id must be a positive integer, got {namespace_id!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"rate limit {name}: limit must be a positive integer, got {limit!r}")
    if period not in RATE_LIMIT_PERIODS:
        raise ValueError(f"rate limit {name}: period must be 10 or 60 seconds, got {period!r}")
    return Binding(
        cloudflare.WorkerVersionBindingArgs(
            name=name,
            type="ratelimit",
            namespace_id=namespace_id,
            simple=cloudflare.WorkerVersionBindingSimpleArgs(limit=limit, period=period),
        )
    )


def durable_object_namespace(name: str, class_name: str) -> Binding:
    """A Durable Object class defined by the worker that is given this binding.
    A class of another worker is bound with `Worker.durable_object_binding`."""
    return Binding(
        cloudflare.WorkerVersionBindingArgs(name=name, type="durable_object_namespace", class_name=class_name)
    )


def d1_database(name: str, database_id: pulumi.Input[str]) -> Binding:
    return Binding(cloudflare.WorkerVersionBindingArgs(name=name, type="d1", id=database_id))


def kv_namespace(name: str, namespace_id: pulumi.Input[str]) -> Binding:
    return Binding(cloudflare.WorkerVersionBindingArgs(name=name, type="kv_namespace", namespace_id=namespace_id))


def r2_bucket(name: str, bucket_name: pulumi.Input[str]) -> Binding:
    return Binding(cloudflare.WorkerVersionBindingArgs(name=name, type="r2_bucket", bucket_name=bucket_name))


def vectorize_index(name: str, index_name: pulumi.Input[str]) -> Binding:
    return Binding(cloudflare.WorkerVersionBindingArgs(name=name, type="vectorize", index_name=index_name))


def service(name: str, script_name: pulumi.Input[str]) -> Binding:
    return Binding(
        cloudflare.WorkerVersionBindingArgs(
            name=name, type="service", service=script_name, environment=SERVICE_ENVIRONMENT
        )
    )


def external_durable_object(name: str, class_name: str, script_name: pulumi.Input[str]) -> Binding:
    return Binding(
        cloudflare.WorkerVersionBindingArgs(
            name=name, type="durable_object_namespace", class_name=class_name, script_name=script_name
        )
    )
