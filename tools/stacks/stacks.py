"""Each stack the workflows deploy, in delivery.yaml's order, with its GitHub environments."""

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from stack_config.stacks import deploy_environment, plan_environment

_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


class StacksError(Exception):
    """The stack data is missing or inconsistent; one line."""


@dataclass(frozen=True)
class Stack:
    name: str
    plan_environment: str
    """Its read role: saved plans and drift checks."""
    deploy_environment: str
    """Its deploy role: `pulumi up`."""

    def matrix_entry(self) -> dict[str, str]:
        return {
            "stack": self.name,
            "plan-environment": self.plan_environment,
            "deploy-environment": self.deploy_environment,
        }


def load_stacks(project: Path, delivery_file: Path) -> list[Stack]:
    path = project / delivery_file
    try:
        delivery = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise StacksError(f"{path}: cannot be read ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise StacksError(f"{path}: not YAML ({str(error).splitlines()[0]})") from error
    entries = delivery.get("stacks") if isinstance(delivery, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise StacksError(f"{path}: `stacks:` must map each deployed stack's name to its settings")
    stacks = []
    for name in entries:
        if not isinstance(name, str) or not _STACK_NAME.fullmatch(name):
            raise StacksError(f"{path}: stacks: {str(name)[:40]!r} is not a stack name (letters, digits, - and _)")
        if not (project / f"Pulumi.{name}.yaml").is_file():
            raise StacksError(f"{path}: stacks: {name} has no Pulumi.{name}.yaml, so it has no configuration")
        stacks.append(Stack(name, plan_environment(name), deploy_environment(name)))
    return stacks


def find_stack(stacks: list[Stack], name: str) -> Stack:
    for stack in stacks:
        if stack.name == name:
            return stack
    raise StacksError(f"{name[:40]!r} is not a stack the workflows deploy: {', '.join(s.name for s in stacks)}")
