"""Small plans for policy tests: a few resources, and the stack configuration they were planned with."""

import json
from collections.abc import Sequence
from typing import Any

from tools.offline_plan import ComposedConfig, Plan, PlannedResource, Violation, check_policies

PROJECT = "orchestra"


def resource(
    type_: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    protect: bool = False,
    parent: str | None = None,
    provider: str | None = None,
    dependencies: Sequence[str] = (),
) -> PlannedResource:
    return PlannedResource(
        urn=urn(type_, name),
        type=type_,
        name=name,
        parent=parent,
        custom=True,
        protect=protect,
        retain_on_delete=protect,
        delete_before_replace=False,
        provider=provider,
        dependencies=tuple(dependencies),
        inputs=inputs or {},
    )


def urn(type_: str, name: str, stack: str = "prod") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def violations(
    *resources: PlannedResource, stack: str = "prod", guarded_stacks: Sequence[str] | None = None
) -> list[Violation]:
    """The pack's verdict on `resources` in `stack`; `guarded_stacks` None leaves `orchestra:guardedStacks` unset."""
    plan = Plan(project=PROJECT, stack=stack, stack_urn="", resources=tuple(resources), outputs={})
    values = {} if guarded_stacks is None else {f"{PROJECT}:guardedStacks": json.dumps(list(guarded_stacks))}
    return check_policies(plan, ComposedConfig(values=values, secret_keys=frozenset()))


def messages(found: list[Violation], policy: str) -> list[str]:
    return [violation.message for violation in found if violation.policy == policy]
