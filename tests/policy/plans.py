"""Small plans for policy tests: a few resources, and the stack configuration they were planned with."""

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


def violations(*resources: PlannedResource, environment: str = "prod", stack: str | None = None) -> list[Violation]:
    plan = Plan(project=PROJECT, stack=stack or environment, stack_urn="", resources=tuple(resources), outputs={})
    config = ComposedConfig(values={f"{PROJECT}:environment": environment}, secret_keys=frozenset())
    return check_policies(plan, config)


def messages(found: list[Violation], policy: str) -> list[str]:
    return [violation.message for violation in found if violation.policy == policy]
