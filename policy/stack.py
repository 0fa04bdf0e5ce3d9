"""What a policy may know about the stack it checks: its name and its configuration.

The CLI hands a policy pack the stack's configuration (`PULUMI_CONFIG`), and pulumi-policy
sets it as the runtime's configuration before each validation; the offline plan does the same.

A tenant stack (the `orchestra-tenant` project) carries no `guardedStacks` of its own: it is
guarded when the platform stack it reads is, by the platform project's list in `Pulumi.yaml`.
"""

import functools
from pathlib import Path

import pulumi

from stack_config.data_file import safe_load
from stack_config.model import StackConfig
from systems.tenants.instances import InstanceError, load_stack_instance
from systems.tenants.platform_name import PLATFORM_STACK_SETTING, platform_stack_of
from systems.tenants.tenant_config import TENANT_PROJECT

_GUARDED_STACKS = "guardedStacks"
_DEFAULT_GUARDED: list[str] = StackConfig.model_fields["guarded_stacks"].default
_PLATFORM_STACK_KEY = PLATFORM_STACK_SETTING.removeprefix(f"{TENANT_PROJECT}:")
_REPOSITORY = Path(__file__).resolve().parent.parent


def is_guarded() -> bool:
    """Whether the stack checked is one of `orchestra:guardedStacks` (`stack_config.stacks`), or a
    tenant stack of one: the production guards apply to it. Without the setting, the model's
    default list decides."""
    if pulumi.get_project() == TENANT_PROJECT:
        platform_stack = _tenant_platform_stack(pulumi.get_stack(), pulumi.Config().get(_PLATFORM_STACK_KEY) or "")
        # A tenant stack whose platform stack cannot be told fails its own program; until then it
        # is held to production's rules rather than let off them.
        return platform_stack is None or platform_stack in _platform_guarded_stacks()
    configured = pulumi.Config().get_object(_GUARDED_STACKS)
    return pulumi.get_stack() in (configured if isinstance(configured, list) else _DEFAULT_GUARDED)


@functools.cache
def _tenant_platform_stack(stack: str, setting: str) -> str | None:
    """The platform stack the tenant stack reads, told as its program tells it (`tenant_stack.py`)."""
    try:
        instance = load_stack_instance(_REPOSITORY / "instances", stack)
    except InstanceError:
        return None
    name = platform_stack_of(setting, instance.environment)
    return name.stack if name else None


@functools.cache
def _platform_guarded_stacks() -> list[str]:
    project = safe_load((_REPOSITORY / "Pulumi.yaml").read_text(encoding="utf-8"))
    declared = project.get("config", {}).get(_GUARDED_STACKS, {}).get("default")
    return declared if isinstance(declared, list) else _DEFAULT_GUARDED
