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


def parse_platform_stack(text: str) -> PlatformStackName | None:
    match = _STACK_REFERENCE.fullmatch(text)
    return PlatformStackName(**match.groupdict()) if match else None


def default_platform_stack(environment: str) -> PlatformStackName:
    """The platform stack named after the instance's environment, in the organization the tenant
    stack runs in (`organization` with a self-managed backend)."""
    return PlatformStackName(pulumi.get_organization(), PLATFORM_PROJECT, environment)
