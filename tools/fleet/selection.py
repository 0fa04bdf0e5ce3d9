"""Which tenant stacks a fleet run drives: named ones, all of an environment, or those a git range affects."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from systems.tenants.instances import INSTANCE_ID_PATTERN, Instance, load_instances

from .changes import range_impact
from .waves import Tenant


class SelectionError(Exception):
    """The selection names something that does not exist or is not allowed; one line."""


@dataclass(frozen=True)
class Selection:
    tenants: tuple[Tenant, ...]
    """The stacks to run, by name."""
    removed: tuple[str, ...] = field(default=())
    """Instance ids whose file the range deleted: reported, never run, until a destroy names them."""


def named(instances_dir: Path, environment: str, names: Iterable[str]) -> Selection:
    instances = _by_id(instances_dir)
    chosen: dict[str, Tenant] = {}
    for name in names:
        instance = instances.get(name)
        if instance is None:
            raise SelectionError(f"--tenants: no instance file for {name!r} in {instances_dir}")
        if instance.environment != environment:
            raise SelectionError(f"--tenants: {name!r} is a {instance.environment} tenant, not {environment}")
        chosen[name] = _tenant(instance)
    return Selection(tuple(sorted(chosen.values(), key=lambda tenant: tenant.name)))


def every(instances_dir: Path, environment: str) -> Selection:
    instances = _by_id(instances_dir).values()
    return Selection(tuple(_tenant(instance) for instance in instances if instance.environment == environment))


def changed(instances_dir: Path, environment: str, revisions: str) -> Selection:
    """The tenants `revisions` (BASE..HEAD) affects; the instance files are read from the working tree (HEAD)."""
    impact = range_impact(revisions)
    instances = _by_id(instances_dir)
    missing = sorted(impact.tenants - instances.keys())
    if missing:
        raise SelectionError(
            f"--changed: {revisions} changes the instance file of {missing[0]!r}, which the working tree "
            "does not have; check out the range's head"
        )
    affected = instances.keys() if impact.all_tenants else impact.tenants
    tenants = tuple(_tenant(instances[name]) for name in sorted(affected) if instances[name].environment == environment)
    removed = tuple(
        sorted(name for name, was in impact.removed.items() if was in (environment, None) and name not in instances)
    )
    return Selection(tenants, removed)


def removed_stacks(instances_dir: Path, names: Iterable[str]) -> Selection:
    """Stacks whose instance file is gone, named for a destroy; their environment is no longer on file."""
    instances = _by_id(instances_dir)
    tenants: dict[str, Tenant] = {}
    for name in names:
        if not re.fullmatch(INSTANCE_ID_PATTERN, name):
            raise SelectionError(f"--removed: {name!r} is not an instance id ({INSTANCE_ID_PATTERN})")
        if name in instances:
            raise SelectionError(
                f"--removed: {name!r} still has its instance file in {instances_dir}; name it with --tenants"
            )
        tenants[name] = Tenant(name)
    return Selection(tuple(sorted(tenants.values(), key=lambda tenant: tenant.name)))


def _by_id(instances_dir: Path) -> dict[str, Instance]:
    # Every file is validated, whatever its environment: a bad one stops the run before any stack is touched.
    return {instance.instance_id: instance for instance in load_instances(instances_dir)}


def _tenant(instance: Instance) -> Tenant:
    return Tenant(instance.instance_id, instance.wave)
