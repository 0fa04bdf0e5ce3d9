"""A worker's Durable Object migrations, sent the way wrangler sends them: only what the script lacks.

Cloudflare records on each script the tag of the last migration it applied,
and refuses an upload whose migrations do not start from that tag
("Migration tag precondition failed", code 10079). The provider uploads the
configured migrations verbatim every time, so a fixed migration breaks every
upload after the first. This resource reads the script's current tag
(`default_environment.script.migration_tag` of the script's service, as the
provider's own read does) and yields only the pending steps, with `old_tag` set
to that tag, or nothing when the script is up to date; the worker passes that
to the upload.

The pending steps are worked out in `check`, so `pulumi preview` shows exactly
what the upload will send, and again at create and update, just before the
upload. After a deployment that applied migrations, the next one shows this
resource and the script changing once more: the script is uploaded again,
this time with no migrations.

A script at a tag the program does not declare (after a rollback to a commit
older than its last migration) gets no migrations and a warning naming the
tag: Durable Object classes, like D1 schemas, only move forward. A step the
script has applied cannot be applied again, so changing one is refused at
preview; a new step is the way to change classes.

A dynamic provider: see `components/__init__.py` for why this module stays at its import path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pulumi import Input, Output, ResourceOptions, log
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

from components.cloudflare.cloudflare_api import CLOUDFLARE_API_BASE, CloudflareApiError, call
from components.http_session import is_plausible_token

_CLASS_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CLASS_LISTS = ("new_sqlite_classes", "new_classes", "deleted_classes")
_INPUTS = ("api_base", "account_id", "script_name", "api_token", "migrations")


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


class DurableObjectMigrationsProvider(ResourceProvider):
    """Works out a script's pending migrations from its live tag. Holds no state: everything,
    the token included, arrives in the resource's properties."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = _check_failures(news)
        if failures or any(isinstance(news.get(key), Unknown) for key in _INPUTS):
            return CheckResult(news, failures)
        current_tag = _current_tag(news)
        rewritten = _rewritten(olds.get("migrations") or [], news["migrations"], current_tag)
        if rewritten:
            message = f"applied Durable Object migrations are append-only ({', '.join(rewritten)} changed): add a step"
            return CheckResult(news, [CheckFailure("migrations", message)])
        return CheckResult({**news, "pending": _pending_from(news["migrations"], current_tag, news["script_name"])}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(str(props["script_name"]), _outputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # The token counts too: delete and refresh use the token stored by the last update,
        # so a rotated one must be stored before the old one is revoked.
        changes = not all(_known_and_equal(olds, news, key) for key in (*_INPUTS, "pending"))
        return DiffResult(changes=changes, replaces=[])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_outputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {**props, "pending": _pending(props)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Leaves the script alone: its classes go with the script, or with a deleting step."""


class DurableObjectMigrations(Resource, module="cloudflare", name="DurableObjectMigrations"):
    """The steps of `migrations` that script `script_name` has not applied yet, as `pending`:
    `{"old_tag"?, "new_tag", "steps"}` for the upload's `migrations`, or `{}` when up to date."""

    pending: Output[dict[str, Any]]

    def __init__(
        self,
        name: str,
        account_id: Input[str],
        script_name: Input[str],
        api_token: Input[str],
        migrations: Sequence[DurableObjectMigration],
        opts: ResourceOptions | None = None,
        *,
        api_base: Input[str] = CLOUDFLARE_API_BASE,
    ) -> None:
        """`api_base` is Cloudflare's API root; tests point it at a local server."""
        steps = [migration.step() for migration in migrations]
        super().__init__(
            DurableObjectMigrationsProvider(),
            name,
            {
                "api_base": api_base,
                "account_id": account_id,
                "script_name": script_name,
                "api_token": Output.secret(api_token),
                "migrations": steps,
                # What a new script needs; `check` replaces it with what the live script lacks.
                "pending": _pending_from(steps, current_tag=None, script=None),
            },
            # The provider must keep the token in its outputs (refresh receives
            # nothing else), so the state must hold it encrypted.
            ResourceOptions.merge(opts, ResourceOptions(additional_secret_outputs=["api_token"])),
        )


def _pending(props: Mapping[str, Any]) -> dict[str, Any]:
    return _pending_from(props["migrations"], _current_tag(props), str(props["script_name"]))


def _pending_from(steps: Sequence[Mapping[str, Any]], current_tag: str | None, script: str | None) -> dict[str, Any]:
    """`{}`, not None, when nothing is pending: Pulumi drops a None output and the resource's
    output would fall back to its input, every step."""
    tags = [step["tag"] for step in steps]
    if not steps:
        return {}
    if current_tag is None:
        start = 0
    elif current_tag in tags:
        start = tags.index(current_tag) + 1
    else:
        log.warn(
            f"worker script {script} is at Durable Object migration {current_tag!r}, which this program does "
            f"not declare (declared: {', '.join(tags)}); no migration is sent and its classes stay as they are"
        )
        return {}
    if start == len(steps):
        return {}
    pending: dict[str, Any] = {
        "new_tag": tags[-1],
        "steps": [{key: value for key, value in step.items() if key != "tag"} for step in steps[start:]],
    }
    if current_tag is not None:
        pending["old_tag"] = current_tag
    return pending


def _rewritten(
    previous: Sequence[Mapping[str, Any]], steps: Sequence[Mapping[str, Any]], current_tag: str | None
) -> list[str]:
    """Tags of steps the script has applied whose content differs from what the last deployment
    declared: Cloudflare cannot redo them, so the change would silently never happen. Steps
    after the script's tag may still change (a failed upload's step fixed), and steps the files
    no longer have are a rollback, reported when the pending steps are worked out."""
    tags = [step["tag"] for step in steps]
    if current_tag not in tags:
        return []
    applied = {step["tag"]: step for step in steps[: tags.index(current_tag) + 1]}
    return [step["tag"] for step in previous if step.get("tag") in applied and applied[step["tag"]] != step]


def _current_tag(props: Mapping[str, Any]) -> str | None:
    """The script's last applied migration tag; None for a script that does not exist or has none."""
    path = f"/accounts/{props['account_id']}/workers/services/{quote(str(props['script_name']), safe='')}"
    try:
        service = call("GET", str(props["api_base"]), path, str(props["api_token"]))
    except CloudflareApiError as error:
        if error.status == 404:
            return None
        raise
    tag = (((service or {}).get("default_environment") or {}).get("script") or {}).get("migration_tag")
    return str(tag) if tag else None


def _outputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {**{key: props[key] for key in _INPUTS}, "pending": _pending(props)}


def _known_and_equal(olds: Mapping[str, Any], news: Mapping[str, Any], key: str) -> bool:
    return not isinstance(news.get(key), Unknown) and olds.get(key) == news.get(key)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
    # Values still unknown (computed later in a preview) are checked at update.
    failures = [
        CheckFailure(key, "must be a non-empty string")
        for key in ("account_id", "script_name")
        if not isinstance(news.get(key), Unknown) and not (isinstance(news.get(key), str) and news[key])
    ]
    token = news.get("api_token")
    if not isinstance(token, Unknown) and not is_plausible_token(token):
        failures.append(CheckFailure("api_token", "must be an API token: non-empty, without whitespace"))
    migrations = news.get("migrations")
    if not _well_formed(migrations):
        failures.append(CheckFailure("migrations", "must be steps with distinct tags, each changing some class"))
    return failures


def _well_formed(migrations: Any) -> bool:
    if not isinstance(migrations, list) or not all(isinstance(step, dict) for step in migrations):
        return False
    tags = [step.get("tag") for step in migrations]
    return (
        all(isinstance(tag, str) and _TAG.fullmatch(tag) for tag in tags)
        and len(set(tags)) == len(tags)
        and all(len(step) > 1 for step in migrations)
    )
