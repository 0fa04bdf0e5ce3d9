"""Discord application commands, registered by a Pulumi dynamic provider.

Discord's bulk-overwrite endpoint makes an application's global commands
exactly the list sent, so create and update are one idempotent PUT and delete
is a PUT of `[]`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from components.http_session import ApiError, send

from .provider import CREDENTIAL_SETTING, ConfiguredProvider, ProviderError, changed, is_known

DISCORD_API_BASE = "https://discord.com/api/v10"

# Discord rejects requests without a User-Agent of this shape.
_USER_AGENT = "DiscordBot (https://discord.com/developers/docs/interactions, 1.0)"

# Both methods used are idempotent, so retrying them is always safe.
_RETRY_METHODS = frozenset({"GET", "PUT"})

_CHAT_INPUT = 1  # Discord's default command type


class SlashCommandsProvider(ConfiguredProvider):
    """CRUD for one application's global commands; the credential is the application's bot token."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [*_check_failures(news), *self.credential_failures(news)])

    def create(self, props: dict[str, Any]) -> CreateResult:
        registered = self._request("PUT", props, _plain(props["commands"]))
        return CreateResult(props["application_id"], _outputs(props, registered))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = changed(olds, news, ["application_id"])
        desired = _canonical(news["commands"])
        changes = (
            bool(replaces)
            or bool(changed(olds, news, ["api_base", CREDENTIAL_SETTING]))
            or desired is None
            or desired != _canonical(olds["commands"])
            or _registered_keys(olds) != _command_keys(news["commands"])
        )
        return DiffResult(changes=changes, replaces=replaces)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        registered = self._request("PUT", news, _plain(news["commands"]))
        return UpdateResult(_outputs(news, registered))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Refresh records what Discord holds; diff then compares it with the
        # desired commands, so commands added or removed by hand are restored.
        live = self._request("GET", props)
        return ReadResult(id_, {**props, "registered_commands": _registered(live)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._request("PUT", props, [], gone_is_success=True)

    def _request(
        self,
        method: str,
        props: Mapping[str, Any],
        body: list[Any] | None = None,
        *,
        gone_is_success: bool = False,
    ) -> list[dict[str, Any]]:
        path = f"/applications/{props['application_id']}/commands"
        headers = {"Authorization": f"Bot {self.credential(props)}", "User-Agent": _USER_AGENT}
        try:
            response = send(
                method,
                str(props["api_base"]).rstrip("/") + path,
                headers=headers,
                retry_methods=_RETRY_METHODS,
                json_body=body,
            )
        except ApiError as error:
            raise ProviderError(str(error)) from None
        # 404: the application itself is gone, and its commands with it.
        if gone_is_success and response.status_code == 404:
            return []
        if not response.ok:
            raise ProviderError(f"Discord {method} {path} failed: {_describe(response)}", response.status_code)
        result: list[dict[str, Any]] = response.json()
        return result


class SlashCommands(Resource, module="discord", name="SlashCommands"):
    """An application's global slash commands, exactly `commands` (Discord's
    application-command JSON objects); other commands of the application are
    removed."""

    application_id: Output[str]
    registered_commands: Output[list[dict[str, Any]]]
    """`{"id", "name", "type"}` of each command as Discord registered it."""

    def __init__(
        self,
        name: str,
        application_id: Input[str],
        credential_setting: str,
        commands: Input[Sequence[Mapping[str, Any]]],
        opts: ResourceOptions | None = None,
        *,
        api_base: Input[str] = DISCORD_API_BASE,
    ) -> None:
        """`credential_setting` names the stack setting (`<namespace>:<key>`) holding the bot token.
        `api_base` is Discord's API root; tests point it at a local server."""
        super().__init__(
            SlashCommandsProvider(),
            name,
            {
                "api_base": api_base,
                "application_id": application_id,
                CREDENTIAL_SETTING: credential_setting,
                "commands": commands,
                "registered_commands": None,
            },
            opts,
        )


def _describe(response: requests.Response) -> str:
    """Status and Discord's own explanation; the request (and token) stays out."""
    try:
        error = response.json()
    except ValueError:
        error = None
    if isinstance(error, dict):
        detail = f"{error.get('message')} (code {error.get('code')})"
        if "errors" in error:
            detail += " " + json.dumps(error["errors"], sort_keys=True)[:500]
    else:
        detail = response.text[:200]
    return f"HTTP {response.status_code} {response.reason}: {detail}"


def _outputs(props: Mapping[str, Any], registered: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "api_base": props["api_base"],
        "application_id": props["application_id"],
        CREDENTIAL_SETTING: props[CREDENTIAL_SETTING],
        "commands": _plain(props["commands"]),
        "registered_commands": _registered(registered),
    }


def _registered(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": command["id"], "name": command["name"], "type": command.get("type", _CHAT_INPUT)} for command in commands
    ]


def _plain(value: Any) -> Any:
    """Integral floats back to ints: Pulumi carries every number as a double,
    and Discord expects integers for types and option kinds."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _canonical(commands: Any) -> list[str] | None:
    """Order-insensitive form of the commands; None while any part is unknown
    (a preview of values not yet computed)."""
    try:
        return sorted(json.dumps(command, sort_keys=True) for command in _plain(commands))
    except TypeError:
        return None


def _command_keys(commands: Any) -> set[tuple[int, str]]:
    return {(_plain(c.get("type", _CHAT_INPUT)), c["name"]) for c in _plain(commands)}


def _registered_keys(props: Mapping[str, Any]) -> set[tuple[int, str]]:
    return {(_plain(c["type"]), c["name"]) for c in props.get("registered_commands") or []}


def _check_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
    # Values still unknown (computed later in a preview) are checked at update.
    failures: list[CheckFailure] = []
    application_id = news.get("application_id")
    if is_known(application_id) and not (isinstance(application_id, str) and application_id.isdigit()):
        failures.append(CheckFailure("application_id", "must be the application's numeric id"))
    commands = news.get("commands")
    if not is_known(commands) or (isinstance(commands, list) and _canonical(commands) is None):
        return failures
    if not isinstance(commands, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) for c in commands
    ):
        failures.append(CheckFailure("commands", "must be a list of objects, each with a name"))
    elif len(_command_keys(commands)) != len(commands):
        failures.append(CheckFailure("commands", "names must be unique per command type"))
    return failures
