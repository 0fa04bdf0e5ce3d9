"""Discord interactions endpoint: verifies, validates, records and enqueues; the worker does the rest.

Every failure to authenticate the request, whether the signature headers are
missing, malformed, stale or simply wrong, is a 401: Discord's contract is that an
endpoint rejects unverifiable requests with 401, and one status for all of them
tells an unauthenticated caller nothing about which check it failed. 400 is kept
for requests that are authentic but malformed.

An authentic command the configuration does not allow (from another guild, a direct
message, an unlisted repository, a member without an approver role) is answered with
an ephemeral refusal and writes nothing. ``/plan``, ``/approve`` and ``/ship`` need GitHub,
which may take longer than Discord's 3 seconds: they are answered at once with a deferred
response (type 5) and the worker edits it. ``/status`` and ``/cancel`` need only the table.
"""

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from . import access, clock, contract, discord_text, http_api, payload, work_queue
from .commands import InvalidCommand, PlanCommand, RunCommand, StatusCommand, parse_command
from .http_api import Event, HttpError, Response
from .message import Message
from .run import Run, run_id_for
from .run_store import Outcome, RunStore
from .secret_values import read_secret

PING = 1
APPLICATION_COMMAND = 2
PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
EPHEMERAL = 64

# Discord signs the timestamp too; refusing old ones stops a captured request being replayed later.
MAX_CLOCK_SKEW_SECONDS = 300

_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")

logger = logging.getLogger(__name__)


class Refusal(Exception):
    """An authentic request this guild's configuration does not allow: an ephemeral answer, nothing written."""


def _handle(event: Event) -> Response:
    body = http_api.raw_body(event)
    _verify(http_api.headers(event), body)
    interaction = http_api.json_object(body)
    interaction_type = interaction.get("type")
    if interaction_type == PING:
        return http_api.json_response(200, {"type": PONG})
    if interaction_type == APPLICATION_COMMAND:
        try:
            return _run_command(interaction)
        except Refusal as refusal:
            return _message(str(refusal), ephemeral=True)
    raise HttpError(400, "unsupported interaction type")


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
    public_key = VerifyKey(bytes.fromhex(read_secret(os.environ[contract.DISCORD_PUBLIC_KEY_SECRET_ARN])))
    try:
        public_key.verify(timestamp.encode() + body, bytes.fromhex(signature))
    except BadSignatureError as error:
        raise HttpError(401, "invalid request signature") from error


def _run_command(interaction: Mapping[str, Any]) -> Response:
    try:
        command = parse_command(payload.object_at(interaction, "data"))
    except InvalidCommand as error:
        raise HttpError(400, str(error)) from error
    guild = _guild(interaction)
    store = RunStore.from_environment()
    if isinstance(command, StatusCommand):
        return _message(_status(store, guild, command))
    if isinstance(command, PlanCommand):
        return _plan(store, guild, interaction, command)
    return _run_action(store, guild, interaction, command)


def _guild(interaction: Mapping[str, Any]) -> access.Guild:
    guild_id = interaction.get("guild_id")
    if guild_id is None:
        raise Refusal("Orchestra answers in its servers only, not in direct messages.")
    guild = access.from_environment().guilds.get(
        payload.matching(guild_id, "guild_id", payload.SNOWFLAKE_PATTERN, "a snowflake")
    )
    if guild is None:
        raise Refusal("This server is not one Orchestra serves.")
    return guild


def _repository_of(guild: access.Guild, repository: str) -> access.Repository:
    configured = guild.repository(repository)
    if configured is None:
        raise Refusal(f"{repository} is not a repository this server may run.")
    return configured


def _plan(store: RunStore, guild: access.Guild, interaction: Mapping[str, Any], command: PlanCommand) -> Response:
    name = command.repository or guild.default_repository
    if name is None:
        raise Refusal("Name a repository: this server has no default one.")
    repository = _repository_of(guild, name)
    requester = _requester(interaction)
    reply = _interaction_token(interaction)
    run_id = store.open_run_id(repository.name)
    if run_id is None:
        run_id = run_id_for(f"discord:{_interaction_id(interaction)}")
        outcome = store.propose(
            run_id=run_id, repository=repository.name, source="discord", requested_by=requester, now=clock.now()
        )
        if outcome is Outcome.DUPLICATE:
            raise Refusal(f"This request was already handled: run `{run_id}`.")
        if outcome is Outcome.CONFLICT:
            # Another request opened a run for the repository a moment ago: plan that one.
            run_id = store.open_run_id(repository.name)
            if run_id is None:
                raise HttpError(409, "the repository's open run changed meanwhile; try again")
    work_queue.send(Message("plan", run_id, reply=reply, by=requester, interaction=_interaction_id(interaction)))
    logger.info("planning run %s for %s", run_id, repository.name, extra={"run_id": run_id})
    return _deferred()


def _run_action(store: RunStore, guild: access.Guild, interaction: Mapping[str, Any], command: RunCommand) -> Response:
    member = payload.object_at(interaction, "member")
    roles = member.get("roles")
    if not isinstance(roles, list) or not guild.approver_roles.intersection(r for r in roles if isinstance(r, str)):
        raise Refusal(f"Only members with an approver role may /{command.name}.")
    run = _run_in_guild(store, guild, command.run_id)
    requester = _requester(interaction)
    if command.name == "cancel":
        outcome = store.cancel(run.run_id, run.repository, by=requester, now=clock.now())
        if outcome is not Outcome.DONE:
            raise Refusal(f"Run `{run.run_id}` is {run.status}; only a proposed run can be cancelled.")
        return _message(f"Run `{run.run_id}` cancelled by {requester}.")
    reply = _interaction_token(interaction)
    if command.name == "approve":
        if run.status == "proposed":
            outcome = store.approve(run.run_id, run.repository, by=requester, now=clock.now())
            if outcome is not Outcome.DONE:
                raise Refusal(f"Run `{run.run_id}` cannot be approved: it has no issues, or it just changed.")
        # An approved run whose dispatch message was lost is dispatched again: the worker repeats nothing.
        elif run.status != "approved":
            raise Refusal(f"Run `{run.run_id}` is {run.status}; only a proposed run can be approved.")
    elif run.status not in ("succeeded", "failed", "shipped"):
        raise Refusal(f"Run `{run.run_id}` is {run.status}; it can be shipped once every task has finished.")
    work_queue.send(Message(command.name, run.run_id, reply=reply, by=requester))
    logger.info("%s of run %s queued by %s", command.name, run.run_id, requester, extra={"run_id": run.run_id})
    return _deferred()


def _run_in_guild(store: RunStore, guild: access.Guild, run_id: str) -> Run:
    run = store.get_run(run_id)
    # Another guild's run is answered exactly like a missing one.
    if run is None or guild.repository(run.repository) is None:
        raise Refusal(f"No run `{run_id}` in this server.")
    return run


def _status(store: RunStore, guild: access.Guild, command: StatusCommand) -> str:
    if command.run_id is not None:
        run = _run_in_guild(store, guild, command.run_id)
        lines = [_describe(run)]
        lines += [f"- #{task.issue} {task.title}: {task.state}" for task in run.tasks.values()]
        lines += [f"{entry.at} {entry.by}: {entry.action}" for entry in run.history[-5:]]
        return "\n".join(lines)
    runs = store.recent_runs(clock.now(), guild.repositories)
    if not runs:
        return "No runs this month or last."
    return "Recent runs:\n" + "\n".join(_describe(run) for run in runs)


def _describe(run: Run) -> str:
    return (
        f"`{run.run_id}` {run.status}: {run.repository}, {len(run.tasks)} issue(s), "
        f"requested by {run.requested_by} via {run.source} at {run.created_at}"
    )


def _requester(interaction: Mapping[str, Any]) -> str:
    user = payload.object_at(payload.object_at(interaction, "member"), "user")
    # Discord usernames are 2-32 characters.
    return payload.text(user.get("username"), "member.user.username", 32)


def _interaction_id(interaction: Mapping[str, Any]) -> str:
    return payload.matching(interaction.get("id"), "id", payload.SNOWFLAKE_PATTERN, "a snowflake")


def _interaction_token(interaction: Mapping[str, Any]) -> str:
    return payload.matching(
        interaction.get("token"), "token", payload.INTERACTION_TOKEN_PATTERN, "an interaction token"
    )


def _deferred() -> Response:
    return http_api.json_response(200, {"type": DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE})


def _message(content: str, *, ephemeral: bool = False) -> Response:
    # Content echoes user input; never let it ping anyone.
    data: dict[str, Any] = {"content": discord_text.fitted(content), "allowed_mentions": {"parse": []}}
    if ephemeral:
        data["flags"] = EPHEMERAL
    return http_api.json_response(200, {"type": CHANNEL_MESSAGE_WITH_SOURCE, "data": data})
