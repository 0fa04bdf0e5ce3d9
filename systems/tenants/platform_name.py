"""Which platform stack a tenant stack reads: the one its `platformStack` setting names, or else
the one named after its instance file's environment. Kept apart from `platform.py` (which imports
the Cloudflare SDK) so that the policy pack can tell a tenant stack's environment cheaply."""

import re
from dataclasses import dataclass

import pulumi

PLATFORM_PROJECT = "orchestra"
PLATFORM_STACK_SETTING = "orchestra-tenant:platformStack"

# `<organization>/<project>/<stack>`, the form a StackReference names a stack of any backend by.
_STACK_REFERENCE = re.compile(r"(?P<organization>[^/\s]+)/(?P<project>[^/\s]+)/(?P<stack>[A-Za-z0-9][A-Za-z0-9_.-]*)")


@dataclass(frozen=True)
class PlatformStackName:
    organization: str
    project: str
    stack: str

    def __str__(self) -> str:
        return f"{self.organization}/{self.project}/{self.stack}"


def platform_stack_of(setting: str, environment: str) -> PlatformStackName | None:
    """The platform stack a tenant stack reads: the one its `platformStack` setting names, else the
    one named after its instance file's `environment` in the organization the tenant stack runs in
    (`organization` with a self-managed backend); None when the setting names no stack."""
    if not setting:
        return PlatformStackName(pulumi.get_organization(), PLATFORM_PROJECT, environment)
    match = _STACK_REFERENCE.fullmatch(setting)
    return PlatformStackName(**match.groupdict()) if match else None
