from __future__ import annotations

import base64
import json
import pickletools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.providers.provider import ProviderError
from components.providers.slash_commands import DISCORD_API_BASE, SlashCommands, SlashCommandsProvider
from tests.components.dynamic_provider_support import (
    PROJECT_ROOT,
    EchoMocks,
    FakeApi,
    HostedProvider,
    RecordedRequest,
    RecordingMonitor,
    Reply,
    configured,
    credentials_sent,
    hosted,
    provider_host,
    recording_monitor,
    serving,
)

APPLICATION_ID = "123456789012345678"
TOKEN = "MTIz.bot-token-never-to-be-seen"
ROTATED = "MTIz.rotated-bot-token"
SETTING = "orchestra:discordBotToken"
URN = "urn:pulumi:dev::orchestra::pulumi-python:dynamic/discord:SlashCommands::slash-commands"


def commands_provider(token: str = TOKEN) -> SlashCommandsProvider:
    return configured(SlashCommandsProvider(), {SETTING: token})


COMMANDS: list[dict[str, Any]] = [
    {
        "name": "plan",
        "description": "Start a run",
        "type": 1,
        "options": [{"name": "issue", "description": "Issue", "type": 4, "required": True}],
    },
    {"name": "status", "description": "Report runs"},
]


class FakeDiscord(FakeApi):
    """Answers like Discord's application-commands API, unless a test scripts
    the next replies."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = {TOKEN}
        """The bot tokens Discord accepts; a test revokes one by removing it."""
        self.registered: dict[str, list[dict[str, Any]]] = {}
        self._ids: dict[tuple[str, int, str], str] = {}
        self.api_base = f"{self.base_url}/api/v10"

    def answer(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") not in {f"Bot {token}" for token in self.tokens}:
            return Reply(401, {"message": "401: Unauthorized", "code": 0})
        match = re.fullmatch(r"/api/v10/applications/(\d+)/commands", request.path)
        if match is None:
            return Reply(404, {"message": "404: Not Found", "code": 0})
        application_id = match.group(1)
        if request.method == "PUT":
            self.registered[application_id] = [
                self.registered_command(application_id, command) for command in json.loads(request.body)
            ]
        return Reply(200, self.registered.get(application_id, []))

    def registered_command(self, application_id: str, command: dict[str, Any]) -> dict[str, Any]:
        kind = command.get("type", 1)
        key = (application_id, kind, command["name"])
        command_id = self._ids.setdefault(key, str(1_000_000 + len(self._ids)))
        return {
            "id": command_id,
            "application_id": application_id,
            "version": "1",
            "default_member_permissions": None,
            "type": kind,
            **command,
        }


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    fake = FakeDiscord()
    with serving(fake.server):
        yield fake


def props(discord: FakeDiscord, **overrides: Any) -> dict[str, Any]:
    return {
        "api_base": discord.api_base,
        "application_id": APPLICATION_ID,
        "credential_setting": SETTING,
        "commands": COMMANDS,
        **overrides,
    }


def assert_discord_request(request: RecordedRequest, method: str, body: list[dict[str, Any]] | None) -> None:
    assert request.method == method
    assert request.path == f"/api/v10/applications/{APPLICATION_ID}/commands"
    assert request.headers["authorization"] == f"Bot {TOKEN}"
    assert re.fullmatch(r"DiscordBot \(https://\S+, [\d.]+\)", request.headers["user-agent"])
    if body is None:
        assert request.body == b""
    else:
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.body) == body


def test_create_overwrites_the_commands_and_reports_their_ids(discord: FakeDiscord) -> None:
    result = commands_provider().create(props(discord))

    [request] = discord.requests
    assert_discord_request(request, "PUT", COMMANDS)
    assert result.id == APPLICATION_ID
    assert result.outs == {
        **props(discord),
        "registered_commands": [
            {"id": "1000000", "name": "plan", "type": 1},
            {"id": "1000001", "name": "status", "type": 1},
        ],
    }


def test_numbers_pulumi_carried_as_doubles_are_sent_as_integers(discord: FakeDiscord) -> None:
    as_doubles = json.loads(json.dumps(COMMANDS).replace('"type": 1', '"type": 1.0'))
    as_doubles[0]["options"][0]["type"] = 4.0

    commands_provider().create(props(discord, commands=as_doubles))

    assert b"1.0" not in discord.requests[0].body and b"4.0" not in discord.requests[0].body
    assert json.loads(discord.requests[0].body) == COMMANDS


def test_update_overwrites_with_the_new_commands(discord: FakeDiscord) -> None:
    provider = commands_provider()
    olds = provider.create(props(discord)).outs or {}
    news = props(discord, commands=COMMANDS[:1])

    result = provider.update(APPLICATION_ID, olds, news)

    assert_discord_request(discord.requests[-1], "PUT", COMMANDS[:1])
    assert (result.outs or {})["registered_commands"] == [{"id": "1000000", "name": "plan", "type": 1}]


def test_delete_clears_the_commands(discord: FakeDiscord) -> None:
    provider = commands_provider()
    outs = provider.create(props(discord)).outs or {}

    provider.delete(APPLICATION_ID, outs)

    assert_discord_request(discord.requests[-1], "PUT", [])
    assert discord.registered[APPLICATION_ID] == []


def test_delete_of_an_application_that_is_gone_succeeds(discord: FakeDiscord) -> None:
    discord.scripted.append(Reply(404, {"message": "Unknown Application", "code": 10002}))

    commands_provider().delete(APPLICATION_ID, props(discord))

    assert len(discord.requests) == 1


def test_read_reports_live_commands_so_hand_made_changes_show_in_diff(
    discord: FakeDiscord,
) -> None:
    provider = commands_provider()
    outs = provider.create(props(discord)).outs or {}
    discord.registered[APPLICATION_ID].append({"id": "42", "name": "rogue", "type": 1, "description": "added by hand"})

    read = provider.read(APPLICATION_ID, outs)

    assert_discord_request(discord.requests[-1], "GET", None)
    assert read.id == APPLICATION_ID
    assert (read.outs or {})["registered_commands"][-1] == {"id": "42", "name": "rogue", "type": 1}
    assert provider.diff(APPLICATION_ID, read.outs or {}, props(discord)).changes is True
    assert provider.diff(APPLICATION_ID, outs, props(discord)).changes is False


def test_rate_limit_is_retried_after_the_time_discord_asks(discord: FakeDiscord, sleeps: list[float]) -> None:
    discord.scripted.append(
        Reply(
            429,
            {"message": "You are being rate limited.", "retry_after": 2.5, "global": False},
            {"Retry-After": "3"},
        )
    )

    result = commands_provider().create(props(discord))

    assert [r.method for r in discord.requests] == ["PUT", "PUT"]
    assert_discord_request(discord.requests[1], "PUT", COMMANDS)
    assert sleeps == [3]
    assert result.id == APPLICATION_ID


def test_retry_after_is_bounded(discord: FakeDiscord, sleeps: list[float]) -> None:
    discord.scripted.append(Reply(429, {"message": "slow down"}, {"Retry-After": "86400"}))

    commands_provider().create(props(discord))

    assert sleeps == [30]


def test_server_error_is_retried(discord: FakeDiscord) -> None:
    discord.scripted.append(Reply(500, {"message": "500: Internal Server Error", "code": 0}))

    result = commands_provider().create(props(discord))

    assert len(discord.requests) == 2
    assert (result.outs or {})["registered_commands"][0]["name"] == "plan"


def test_persistent_server_errors_give_up_after_bounded_retries(discord: FakeDiscord, sleeps: list[float]) -> None:
    discord.scripted.extend(Reply(503, {"message": "upstream down", "code": 0}) for _ in range(10))

    with pytest.raises(ProviderError, match="HTTP 503"):
        commands_provider().create(props(discord))

    assert len(discord.requests) == 6
    assert sleeps and max(sleeps) <= 8


def test_unauthorized_fails_at_once_naming_status_and_message_not_token(
    discord: FakeDiscord,
) -> None:
    discord.scripted.append(Reply(401, {"message": "401: Unauthorized", "code": 0}))

    with pytest.raises(ProviderError) as failure:
        commands_provider().create(props(discord))

    message = str(failure.value)
    assert "HTTP 401" in message and "401: Unauthorized" in message
    assert f"/applications/{APPLICATION_ID}/commands" in message
    assert TOKEN not in message and TOKEN not in repr(failure.value.args)
    assert len(discord.requests) == 1


def test_validation_errors_from_discord_are_shown(discord: FakeDiscord) -> None:
    errors = {"0": {"name": {"_errors": [{"code": "APPLICATION_COMMAND_INVALID_NAME"}]}}}
    discord.scripted.append(Reply(400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}))

    with pytest.raises(ProviderError, match=r"Invalid Form Body.*50035.*INVALID_NAME"):
        commands_provider().create(props(discord))


OUTPUTS = {
    "api_base": DISCORD_API_BASE,
    "application_id": APPLICATION_ID,
    "credential_setting": SETTING,
    "commands": COMMANDS,
    "registered_commands": [
        {"id": "1", "name": "plan", "type": 1},
        {"id": "2", "name": "status", "type": 1.0},
    ],
}
INPUTS = {key: value for key, value in OUTPUTS.items() if key != "registered_commands"}


@pytest.mark.parametrize(
    ("news", "changes", "replaces"),
    [
        pytest.param(INPUTS, False, [], id="unchanged"),
        pytest.param({**INPUTS, "credential_setting": "orchestra:other"}, True, [], id="setting-is-an-update"),
        pytest.param({**INPUTS, "commands": COMMANDS[::-1]}, False, [], id="reordered"),
        pytest.param(
            {**INPUTS, "commands": json.loads(json.dumps(COMMANDS).replace(": 4", ": 4.0"))},
            False,
            [],
            id="numbers-as-doubles",
        ),
        pytest.param(
            {**INPUTS, "commands": [{**COMMANDS[0], "description": "Plan"}, COMMANDS[1]]},
            True,
            [],
            id="description",
        ),
        pytest.param({**INPUTS, "commands": COMMANDS[:1]}, True, [], id="removed"),
        pytest.param({**INPUTS, "commands": Unknown()}, True, [], id="unknown-commands"),
        pytest.param(
            {**INPUTS, "commands": [COMMANDS[0], {"name": Unknown()}]},
            True,
            [],
            id="unknown-name",
        ),
        pytest.param({**INPUTS, "api_base": "http://x/api"}, True, [], id="api-base"),
        pytest.param({**INPUTS, "application_id": "999"}, True, ["application_id"], id="application"),
        pytest.param(
            {**INPUTS, "application_id": Unknown()},
            True,
            ["application_id"],
            id="unknown-application",
        ),
    ],
)
def test_diff(news: dict[str, Any], changes: bool, replaces: list[str]) -> None:
    result = commands_provider().diff(APPLICATION_ID, OUTPUTS, news)

    assert (result.changes, result.replaces) == (changes, replaces)


@pytest.mark.parametrize(
    ("override", "failed_property"),
    [
        ({"application_id": "my-app"}, "application_id"),
        ({"credential_setting": "discordBotToken"}, "credential_setting"),
        ({"credential_setting": "orchestra:unset"}, "credential_setting"),
        ({"commands": [{"description": "no name"}]}, "commands"),
        ({"commands": [COMMANDS[1], {**COMMANDS[1], "description": "again"}]}, "commands"),
    ],
)
def test_check_rejects_malformed_inputs_without_echoing_them(override: dict[str, Any], failed_property: str) -> None:
    news = {**INPUTS, **override}

    failures = commands_provider().check({}, news).failures

    assert [failure.property for failure in failures] == [failed_property]
    assert TOKEN not in failures[0].reason


def test_check_accepts_valid_and_not_yet_known_inputs() -> None:
    provider = commands_provider()
    unknowns = {**INPUTS, "application_id": Unknown(), "commands": [{"name": Unknown()}]}

    assert provider.check({}, INPUTS).failures == []
    assert provider.check({}, unknowns).failures == []
    assert provider.check({}, INPUTS).inputs == INPUTS


@pytest.fixture
def monitor() -> RecordingMonitor:
    return recording_monitor(EchoMocks(id_input="application_id"))


@pulumi.runtime.test
def test_resource_registers_the_setting_not_the_token(monitor: RecordingMonitor) -> pulumi.Output[Any]:
    resource = SlashCommands("slash-commands", APPLICATION_ID, SETTING, COMMANDS)

    def check(_: Any) -> None:
        [request] = [r for r in monitor.registrations if r.name == "slash-commands"]
        assert request.type == "pulumi-python:dynamic/discord:SlashCommands"
        inputs = rpc.deserialize_properties(request.object)
        assert inputs["credential_setting"] == SETTING
        assert list(request.additionalSecretOutputs) == []
        assert inputs["application_id"] == APPLICATION_ID
        assert inputs["commands"] == COMMANDS
        assert inputs["api_base"] == DISCORD_API_BASE
        # The provider is stored as a reference to this module's class, not as code.
        pickled = base64.b64decode(rpc.unwrap_rpc_secret(inputs["__provider"]))
        names = [arg for op, arg, _ in pickletools.genops(pickled) if op.name == "SHORT_BINUNICODE"]
        assert names == ["components.providers.slash_commands", "SlashCommandsProvider"]

    return resource.urn.apply(check)


def test_provider_host_started_in_the_project_directory_runs_the_provider(
    discord: FakeDiscord,
) -> None:
    with provider_host(PROJECT_ROOT) as stub:
        host = HostedProvider(stub, SlashCommandsProvider(), URN, {SETTING: TOKEN})
        id_, outputs = host.create(props(discord))
        host.delete(id_, outputs)

    assert id_ == APPLICATION_ID
    assert [c["name"] for c in outputs["registered_commands"]] == ["plan", "status"]
    assert_discord_request(discord.requests[0], "PUT", COMMANDS)
    assert_discord_request(discord.requests[1], "PUT", [])


def test_provider_host_elsewhere_cannot_import_the_provider(discord: FakeDiscord, tmp_path: Path) -> None:
    with provider_host(tmp_path) as stub, pytest.raises(grpc.RpcError) as failure:
        HostedProvider(stub, SlashCommandsProvider(), URN, {SETTING: TOKEN}).create(props(discord))

    assert "No module named 'components'" in str(failure.value)
    assert discord.requests == []


def test_after_discords_reset_token_every_command_uses_the_configured_token(discord: FakeDiscord) -> None:
    with hosted(SlashCommandsProvider(), URN, {SETTING: TOKEN}) as host:
        id_, state = host.create(host.check({}, props(discord)))
    discord.tokens = {ROTATED}  # Reset Token revokes the old token at once
    after_rotation = len(discord.requests)

    with hosted(SlashCommandsProvider(), URN, {SETTING: ROTATED}) as host:
        refreshed = host.read(id_, state)
        news = host.check(refreshed, props(discord, commands=COMMANDS[:1]))
        diff = host.diff(id_, refreshed, news)
        updated = host.update(id_, refreshed, news)
        host.delete(id_, updated)

    assert [c["name"] for c in refreshed["registered_commands"]] == ["plan", "status"]
    assert list(diff.replaces) == []
    assert [c["name"] for c in updated["registered_commands"]] == ["plan"]
    assert discord.registered[APPLICATION_ID] == []
    assert credentials_sent(discord.requests[after_rotation:]) == {f"Bot {ROTATED}"}


def test_a_rotated_token_alone_is_no_change() -> None:
    assert commands_provider(ROTATED).diff(APPLICATION_ID, OUTPUTS, INPUTS).changes is False
