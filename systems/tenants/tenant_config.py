"""The settings of a tenant stack (`orchestra-tenant:*`), declared with their defaults in
`tenants/Pulumi.yaml`: a thousand tenant stacks need no stack file of their own.

Everything else a tenant stack needs comes from its instance file (`instances/<stack>.yaml`) and
its platform stack's exports (`platform.py`); its Cloudflare token from the environment of the
command, `CLOUDFLARE_API_TOKEN`, so that no stack keeps a copy of it in its configuration.
"""

import os

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from stack_config.loader import settings_in

TENANT_PROJECT = "orchestra-tenant"
API_TOKEN_VARIABLE = "CLOUDFLARE_API_TOKEN"  # noqa: S105 - a variable's name, not a credential
"""The environment variable holding the Cloudflare token: the platform stack's `cloudflareApiToken`."""


class TenantConfigError(pulumi.RunError):
    """A bad tenant stack setting or environment; one line, before anything is declared."""


class TenantStackConfig(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)

    platform_stack: str = Field(
        default="",
        description=(
            "The platform stack this tenant reads, <organization>/orchestra/<stack>; empty for the one named "
            "after the instance's environment in the current organization (organization with a self-managed backend)."
        ),
    )
    delivery_file: str = Field(
        default="../delivery.yaml",
        description=(
            "Delivery file (relative to tenants/) whose secrets may name this tenant's keys, "
            "tenant-api-key/<instance>/<key>: this stack sets them; empty for none."
        ),
    )


def load_tenant_config() -> TenantStackConfig:
    raw = settings_in(TENANT_PROJECT)
    try:
        return TenantStackConfig.model_validate(raw)
    except ValidationError as error:
        detail = error.errors()[0]
        key = ".".join(str(part) for part in detail["loc"])
        raise TenantConfigError(f"{TENANT_PROJECT}:{key}: {detail['msg']}") from None


def api_token_from_environment() -> pulumi.Output[str]:
    """The Cloudflare token the command runs with, as a secret; stops the program when there is none."""
    token = os.environ.get(API_TOKEN_VARIABLE, "")
    if not token.strip():
        raise TenantConfigError(
            f"{API_TOKEN_VARIABLE}: not set; a tenant stack runs with its platform stack's token "
            "(`pulumi stack output cloudflareApiToken --show-secrets` of that stack)"
        )
    return pulumi.Output.secret(token)
