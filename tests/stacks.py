"""The project's stacks as its data declares them, for tests that run over every stack."""

import functools
import json
from pathlib import Path

from stack_config.stacks import stack_names
from systems.tenants.instances import load_instances
from systems.tenants.platform_name import PLATFORM_PROJECT
from systems.tenants.tenant_config import API_TOKEN_VARIABLE
from tools.offline_plan import Plan, compose_config, evaluate_project, load_project, referenced_stack

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_STACKS = stack_names(ROOT)
"""Every stack the repository ships: one per `Pulumi.<stack>.yaml`."""
TENANTS_DIR = ROOT / "tenants"
SHIPPED_TENANTS = {instance.instance_id: instance.environment for instance in load_instances(ROOT / "instances")}
"""Every tenant stack the repository ships, one per instance file, with the platform stack it reads."""


@functools.cache
def platform_plan(stack: str) -> Plan:
    """The platform program's offline plan of a shipped stack, evaluated once per run."""
    return evaluate_project(ROOT, stack)


@functools.cache
def tenant_plan(instance_id: str) -> Plan:
    """A shipped tenant stack's offline plan, reading its platform stack's planned outputs, with the
    platform's token in the environment as the fleet runs it."""
    platform = SHIPPED_TENANTS[instance_id]
    references = {f"organization/{PLATFORM_PROJECT}/{platform}": referenced_stack(platform_plan(platform))}
    return evaluate_project(TENANTS_DIR, instance_id, references, secret_environment=[API_TOKEN_VARIABLE])


def setting(stack: str, key: str, project_dir: Path = ROOT) -> object:
    """`orchestra:<key>` as the CLI composes it for `stack` (its file over `Pulumi.yaml`), decoded."""
    value = compose_config(load_project(project_dir), project_dir, stack).values[f"orchestra:{key}"]
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def is_guarded(stack: str, project_dir: Path = ROOT) -> bool:
    guarded = setting(stack, "guardedStacks", project_dir)
    assert isinstance(guarded, list)
    return stack in guarded
