"""A worker's Durable Object history: the tagged steps wrangler's `[[migrations]]` list holds.

Which of them an upload sends is worked out from the live script by
`components.providers.durable_object_migrations`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_CLASS_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CLASS_LISTS = ("new_sqlite_classes", "new_classes", "deleted_classes")


@dataclass(frozen=True)
class DurableObjectMigration:
    """One tagged step of a worker's Durable Object history, like one `[[migrations]]` entry of
    wrangler's configuration. Steps are only ever appended: an applied step stays in the list."""

    tag: str
    """Unique within the worker, e.g. `v1`, `v2`."""
    new_sqlite_classes: Sequence[str] = ()
    """Classes that get a namespace with SQLite storage (what Cloudflare recommends for new classes)."""
    new_classes: Sequence[str] = ()
    """Classes that get a namespace with key-value storage."""
    renamed_classes: Sequence[tuple[str, str]] = ()
    """`(from, to)`: the namespace and its objects move to the class's new name."""
    deleted_classes: Sequence[str] = ()
    """Classes whose namespace, and every object in it, is deleted."""
    transferred_classes: Sequence[tuple[str, str, str]] = ()
    """`(from_script, from, to)`: a namespace of another worker moves to class `to` of this one."""

    def step(self) -> dict[str, Any]:
        """The step as Cloudflare's upload metadata spells it, with its tag; empty lists left out."""
        step: dict[str, Any] = {"tag": self.tag}
        for key in _CLASS_LISTS:
            if getattr(self, key):
                step[key] = list(getattr(self, key))
        if self.renamed_classes:
            step["renamed_classes"] = [{"from": old, "to": new} for old, new in self.renamed_classes]
        if self.transferred_classes:
            step["transferred_classes"] = [
                {"from": old, "from_script": script, "to": new} for script, old, new in self.transferred_classes
            ]
        return step


def defined_classes(worker: str, migrations: Sequence[DurableObjectMigration]) -> frozenset[str]:
    """The classes that have a namespace once every step is applied. Raises `ValueError`, naming
    the worker and the tag, for a step Cloudflare would refuse (a class created twice, renamed or
    deleted before it exists, a repeated tag)."""
    classes: set[str] = set()
    tags: set[str] = set()
    for migration in migrations:
        where = f"worker {worker}: Durable Object migration {migration.tag!r}"
        if not _TAG.fullmatch(migration.tag):
            raise ValueError(f"{where}: a tag is 1-64 letters, digits, '.', '_' or '-'")
        if migration.tag in tags:
            raise ValueError(f"{where}: tags must be unique")
        tags.add(migration.tag)
        step = migration.step()
        if len(step) == 1:
            raise ValueError(f"{where}: a step must create, rename, delete or transfer a class")
        named = [
            *migration.new_sqlite_classes,
            *migration.new_classes,
            *migration.deleted_classes,
            *(name for pair in migration.renamed_classes for name in pair),
            *(name for _, old, new in migration.transferred_classes for name in (old, new)),
        ]
        strange = sorted({name for name in named if not _CLASS_NAME.fullmatch(name)})
        if strange:
            raise ValueError(f"{where}: Durable Object classes must be JavaScript class names: {strange}")
        for name in [*migration.new_sqlite_classes, *migration.new_classes]:
            _require(name not in classes, f"{where}: class {name} already exists")
            classes.add(name)
        for old, new in migration.renamed_classes:
            _require(old in classes and new not in classes, f"{where}: cannot rename {old} to {new}")
            classes.remove(old)
            classes.add(new)
        for name in migration.deleted_classes:
            _require(name in classes, f"{where}: cannot delete {name}, which does not exist")
            classes.remove(name)
        for _, _, new in migration.transferred_classes:
            _require(new not in classes, f"{where}: class {new} already exists")
            classes.add(new)
    return frozenset(classes)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
