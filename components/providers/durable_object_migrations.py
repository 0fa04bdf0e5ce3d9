"""The Durable Object migrations a worker's upload carries, sent the way wrangler sends them: only
what the script lacks, and nothing once it lacks nothing.

Cloudflare records on each script the tag of the last migration it applied,
and refuses an upload whose migrations do not start from that tag
("Migration tag precondition failed", code 10079). So this resource reads the
script's tag (`default_environment.script.migration_tag` of the script's
service, as the Cloudflare provider's own read does) and yields, as `pending`,
the steps after it with `old_tag` set to it, or `{}` when the script has them
all; the worker passes that to the upload.

`pending` is what the next upload carries, so it changes only when an upload
will happen anyway: when the declared steps change (a new step is itself a
change to the upload) or when anything else the upload carries changes
(`upload_digest`). Otherwise `check` keeps the value of the last deployment,
without asking Cloudflare, and refresh leaves it: after a deployment that
applied a step the script is at that step's tag, and re-sending those
migrations would be refused, but nothing re-sends them until the upload
changes, and then the tag is read again. So the deployment after any other
previews no change.

A script at a tag the program does not declare (after a rollback to a commit
older than its last migration) gets no migrations and a warning naming the
tag: Durable Object classes, like D1 schemas, only move forward. A step the
script has applied cannot be applied again, so changing one is refused at
preview; a new step is the way to change classes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
    UpdateResult,
)

from .cloudflare_api import CLOUDFLARE_API_BASE, call
from .provider import (
    CREDENTIAL_SETTING,
    ConfiguredProvider,
    ProviderError,
    changed,
    is_known,
    non_empty_failures,
)

_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_INPUTS = ("api_base", "account_id", "script_name", CREDENTIAL_SETTING, "migrations", "upload_digest")
# What the pending steps are worked out from; the digest only says when to work them out again.
_READ_FROM = ("api_base", "account_id", "script_name", CREDENTIAL_SETTING, "migrations")


class DurableObjectMigrationsProvider(ConfiguredProvider):
    """Works out a script's pending migrations from its live tag, when its upload changes."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [*_check_failures(news), *self.credential_failures(news)]
        if failures or not all(is_known(news.get(key)) for key in _READ_FROM):
            return CheckResult(news, failures)
        if "pending" in olds and not changed(olds, news, ["migrations", "upload_digest"]):
            return CheckResult({**news, "pending": olds["pending"]}, [])
        current_tag = self._current_tag(news)
        rewritten = _rewritten(olds.get("migrations") or [], news["migrations"], current_tag)
        if rewritten:
            message = f"applied Durable Object migrations are append-only ({', '.join(rewritten)} changed): add a step"
            return CheckResult(news, [CheckFailure("migrations", message)])
        return CheckResult({**news, "pending": _pending_from(news["migrations"], current_tag, news["script_name"])}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(str(props["script_name"]), self._outputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=bool(changed(olds, news, (*_INPUTS, "pending"))), replaces=[])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # Only the setting's name or the API root changed: the upload does not, so neither do its migrations.
        if not changed(olds, news, ["migrations", "upload_digest", "pending"]):
            return UpdateResult({**{key: news[key] for key in _INPUTS}, "pending": olds["pending"]})
        return UpdateResult(self._outputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """`pending` is what the last upload carried, not something Cloudflare holds: refresh keeps it."""
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Leaves the script alone: its classes go with the script, or with a deleting step."""

    def _outputs(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Worked out again just before the upload, from the script as it is now."""
        pending = _pending_from(props["migrations"], self._current_tag(props), str(props["script_name"]))
        return {**{key: props[key] for key in _INPUTS}, "pending": pending}

    def _current_tag(self, props: Mapping[str, Any]) -> str | None:
        """The script's last applied migration tag; None for a script that does not exist or has none."""
        path = f"/accounts/{props['account_id']}/workers/services/{quote(str(props['script_name']), safe='')}"
        try:
            service = call("GET", str(props["api_base"]), path, self.credential(props))
        except ProviderError as error:
            if error.status == 404:
                return None
            raise
        tag = (((service or {}).get("default_environment") or {}).get("script") or {}).get("migration_tag")
        return str(tag) if tag else None


class DurableObjectMigrations(Resource, module="cloudflare", name="DurableObjectMigrations"):
    """The steps of `migrations` that script `script_name` lacked when its upload last changed, as
    `pending`: `{"old_tag"?, "new_tag", "steps"}` for the upload's `migrations`, or `{}`."""

    pending: Output[dict[str, Any]]

    def __init__(
        self,
        name: str,
        account_id: Input[str],
        script_name: Input[str],
        credential_setting: str,
        migrations: Sequence[Mapping[str, Any]],
        upload_digest: Input[str],
        opts: ResourceOptions | None = None,
        *,
        api_base: Input[str] = CLOUDFLARE_API_BASE,
    ) -> None:
        """`credential_setting` names the stack setting (`<namespace>:<key>`) holding the API token.
        `migrations` are the steps, oldest first, each `{"tag", <class lists>}` as the upload spells
        them. `upload_digest` changes exactly when anything else the script's upload carries does.
        `api_base` is Cloudflare's API root; tests point it at a local server."""
        steps = [dict(step) for step in migrations]
        super().__init__(
            DurableObjectMigrationsProvider(),
            name,
            {
                "api_base": api_base,
                "account_id": account_id,
                "script_name": script_name,
                CREDENTIAL_SETTING: credential_setting,
                "migrations": steps,
                "upload_digest": upload_digest,
                # What a new script needs; `check` replaces it with what the live script lacks.
                "pending": _pending_from(steps, current_tag=None, script=None),
            },
            opts,
        )


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


def _check_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
    # Values still unknown (computed later in a preview) are checked at update.
    failures = non_empty_failures(news, ("account_id", "script_name"))
    if not _well_formed(news.get("migrations")):
        failures.append(CheckFailure("migrations", "must be steps with distinct tags, each changing some class"))
    digest = news.get("upload_digest")
    if is_known(digest) and not (isinstance(digest, str) and digest):
        failures.append(CheckFailure("upload_digest", "must be a non-empty string"))
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
