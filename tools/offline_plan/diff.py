"""What changed between two plans: resources added, removed and changed (keyed by URN), and outputs."""

from dataclasses import dataclass
from typing import Any

from .paths import child_path
from .plan import Plan, PlannedResource


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""The old or new side of a change where the value does not exist."""

# Resource options a plan records, shown as `[protect]` so they cannot be mistaken for inputs.
_OPTIONS = ("protect", "retain_on_delete", "delete_before_replace", "provider", "parent", "custom")


@dataclass(frozen=True)
class ValueChange:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ResourceChange:
    resource: PlannedResource
    """The resource as the new plan declares it."""
    changes: tuple[ValueChange, ...]


@dataclass(frozen=True)
class PlanDiff:
    old_stack_name: str
    new_stack_name: str
    added: tuple[PlannedResource, ...]
    removed: tuple[PlannedResource, ...]
    changed: tuple[ResourceChange, ...]
    unchanged: int
    outputs: tuple[ValueChange, ...]

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.outputs)

    @property
    def counts(self) -> str:
        return f"+{len(self.added)} ~{len(self.changed)} -{len(self.removed)}"


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    old_by_urn = {resource.urn: resource for resource in old.resources}
    new_by_urn = {resource.urn: resource for resource in new.resources}
    changed: list[ResourceChange] = []
    for urn in sorted(old_by_urn.keys() & new_by_urn.keys()):
        changes = _resource_changes(old_by_urn[urn], new_by_urn[urn])
        if changes:
            changed.append(ResourceChange(resource=new_by_urn[urn], changes=tuple(changes)))
    output_changes: list[ValueChange] = []
    _compare(old.outputs, new.outputs, "", output_changes)
    return PlanDiff(
        old_stack_name=old.stack_name,
        new_stack_name=new.stack_name,
        added=tuple(new_by_urn[urn] for urn in sorted(new_by_urn.keys() - old_by_urn.keys())),
        removed=tuple(old_by_urn[urn] for urn in sorted(old_by_urn.keys() - new_by_urn.keys())),
        changed=tuple(changed),
        unchanged=len(old_by_urn.keys() & new_by_urn.keys()) - len(changed),
        outputs=tuple(output_changes),
    )


def _resource_changes(old: PlannedResource, new: PlannedResource) -> list[ValueChange]:
    changes: list[ValueChange] = []
    _compare(old.inputs, new.inputs, "", changes)
    for option in _OPTIONS:
        _compare(getattr(old, option), getattr(new, option), f"[{option}]", changes)
    # Dependencies are a set; each one gained or lost is a change, named as a person would name it.
    for urn in sorted(set(new.dependencies) - set(old.dependencies)):
        changes.append(ValueChange(path="[dependencies]", old=ABSENT, new=_urn_label(urn)))
    for urn in sorted(set(old.dependencies) - set(new.dependencies)):
        changes.append(ValueChange(path="[dependencies]", old=_urn_label(urn), new=ABSENT))
    return changes


def _urn_label(urn: str) -> str:
    """`urn:pulumi:dev::app::a:b:C$aws:sns/topic:Topic::alarms` → `alarms (aws:sns/topic:Topic)`."""
    _, _, qualified_type, name = urn.split("::", 3)
    return f"{name} ({qualified_type.split('$')[-1]})"


def _compare(old: Any, new: Any, path: str, changes: list[ValueChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            _compare(old.get(key, ABSENT), new.get(key, ABSENT), child_path(path, key), changes)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            old_item = old[index] if index < len(old) else ABSENT
            new_item = new[index] if index < len(new) else ABSENT
            _compare(old_item, new_item, child_path(path, index), changes)
    # `type` too: JSON's true and 1 are different values even though Python finds them equal.
    elif type(old) is not type(new) or old != new:
        changes.append(ValueChange(path=path, old=old, new=new))
