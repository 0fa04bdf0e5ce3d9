"""Discord interactions endpoint: verifies every request, answers PING, runs /plan and /status.

Every failure to authenticate the request, whether the signature headers are
missing, malformed, stale or simply wrong, is a 401: Discord's contract is that an
endpoint rejects unverifiable requests with 401, and one status for all of them
tells an unauthenticated caller nothing about which check it failed. 400 is kept
for requests that are authentic but that this endpoint cannot act on.
"""

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from . import clock, http_api
from .commands import InvalidCommand, PlanCommand, StatusCommand, parse_command
from .http_api import Event, HttpError, Response
from .run_store import Run, RunStore, run_id_for
from .secret_values import read_secret

PING = 1
APPLICATION_COMMAND = 2
PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4

# Discord signs the timestamp too; refusing old ones stops a captured request being replayed later.
MAX_CLOCK_SKEW_SECONDS = 300

_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")

logger = logging.getLogger(__name__)


def _handle(event: Event) -> Response:
    body = http_api.raw_body(event)
    _verify(http_api.headers(event), body)
    interaction = http_api.json_object(body)
    interaction_type = interaction.get("type")
    if interaction_type == PING:
        return http_api.json_response(200, {"type": PONG})
    if interaction_type == APPLICATION_COMMAND:
        return _message(_run_command(interaction))
    raise HttpError(400, f"unsupported interaction type: {interaction_type!r}")


handler = http_api.endpoint(_handle)


def _verify(headers: Mapping[str, str], body: bytes) -> None:
    signature = headers.get("x-signature-ed25519")
    timestamp = headers.get("x-signature-timestamp")
    if signature is None or timestamp is None:
        raise HttpError(401, "missing x-signature-ed25519 or x-signature-timestamp header")
    if not _SIGNATURE.fullmatch(signature):
        raise HttpError(401, "x-signature-ed25519 must be 128 hex characters")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise HttpError(401, "x-signature-timestamp must be unix seconds")
    if abs(clock.now().timestamp() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise HttpError(401, "x-signature-timestamp is more than 5 minutes from now")
    public_key = VerifyKey(bytes.fromhex(read_secret(os.environ["DISCORD_PUBLIC_KEY_SECRET_ARN"])))
    try:
        public_key.verify(timestamp.encode() + body, bytes.fromhex(signature))
    except BadSignatureError as error:
        raise HttpError(401, "invalid request signature") from error


def _run_command(interaction: Mapping[str, Any]) -> str:
    try:
        command = parse_command(http_api.object_at(interaction, "data"))
    except InvalidCommand as error:
        raise HttpError(400, str(error)) from error
    store = RunStore.from_environment()
    if isinstance(command, PlanCommand):
        return _plan(store, interaction, command)
    return _status(store, command)


def _plan(store: RunStore, interaction: Mapping[str, Any], command: PlanCommand) -> str:
    interaction_id = interaction.get("id")
    if not isinstance(interaction_id, str) or not interaction_id:
        raise HttpError(400, "interaction has no id")
    run_id = run_id_for("discord", interaction_id)
    created = store.create_run(
        run_id=run_id,
        source="discord",
        repository=command.repository,
        issue=command.issue,
        requested_by=_requester(interaction),
        now=clock.now(),
    )
    if not created:
        return f"Run `{run_id}` was already queued for this request."
    logger.info("queued run %s for %s#%d", run_id, command.repository, command.issue)
    return f"Run `{run_id}` queued for {command.repository}#{command.issue}."


def _status(store: RunStore, command: StatusCommand) -> str:
    if command.run_id is not None:
        run = store.get_run(command.run_id)
        return _describe(run) if run else f"No run `{command.run_id}`."
    runs = store.recent_runs(clock.now())
    if not runs:
        return "No runs this month or last."
    return "Recent runs:\n" + "\n".join(_describe(run) for run in runs)


def _requester(interaction: Mapping[str, Any]) -> str:
    # In a server the user is under "member"; in a direct message it is top-level "user".
    member_user = http_api.object_at(http_api.object_at(interaction, "member"), "user")
    user = member_user or http_api.object_at(interaction, "user")
    username = user.get("username")
    if not isinstance(username, str) or not username:
        raise HttpError(400, "interaction has no user")
    return username


def _describe(run: Run) -> str:
    return (
        f"`{run.run_id}` {run.status}: {run.repository}#{run.issue}, "
        f"requested by {run.requested_by} via {run.source} at {run.created_at}"
    )


def _message(content: str) -> Response:
    return http_api.json_response(
        200,
        {
            "type": CHANNEL_MESSAGE_WITH_SOURCE,
            # Content echoes user input; never let it ping anyone.
            "data": {"content": content, "allowed_mentions": {"parse": []}},
        },
    )
