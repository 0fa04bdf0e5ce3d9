import json
import re
from typing import Any

import pytest

from systems.orchestrator.handlers.commands import (
    COMMANDS,
    InvalidCommand,
    PlanCommand,
    RunCommand,
    StatusCommand,
    parse_command,
)

# Discord's rules for CHAT_INPUT commands and their options.
NAME = re.compile(r"[-_a-z0-9]{1,32}")
RUN_ID = "run-0123456789abcdef"


def test_definitions_are_plain_json_discord_accepts() -> None:
    assert json.loads(json.dumps(COMMANDS)) == COMMANDS
    assert [command["name"] for command in COMMANDS] == ["plan", "approve", "ship", "cancel", "status"]
    for command in COMMANDS:
        assert command["type"] == 1
        assert NAME.fullmatch(command["name"])
        assert 1 <= len(command["description"]) <= 100
        required = [option["required"] for option in command["options"]]
        # Discord rejects a required option listed after an optional one.
        assert required == sorted(required, reverse=True)
        for option in command["options"]:
            assert option["type"] == 3
            assert NAME.fullmatch(option["name"])
            assert 1 <= len(option["description"]) <= 100
            assert 0 < option["min_length"] <= option["max_length"] <= 6000


def test_option_definitions() -> None:
    options = {c["name"]: [(o["name"], o["required"]) for o in c["options"]] for c in COMMANDS}
    assert options == {
        "plan": [("repository", False)],
        "approve": [("run_id", True)],
        "ship": [("run_id", True)],
        "cancel": [("run_id", True)],
        "status": [("run_id", False)],
    }


def _data(name: str, **values: Any) -> dict[str, Any]:
    return {"type": 1, "name": name, "options": [{"name": key, "value": value} for key, value in values.items()]}


def test_parses_each_command() -> None:
    assert parse_command(_data("plan", repository="my-org-1/repo_name.js")) == PlanCommand("my-org-1/repo_name.js")
    assert parse_command({"type": 1, "name": "plan"}) == PlanCommand(None)
    assert parse_command(_data("approve", run_id=RUN_ID)) == RunCommand("approve", RUN_ID)
    assert parse_command(_data("ship", run_id=RUN_ID)) == RunCommand("ship", RUN_ID)
    assert parse_command(_data("cancel", run_id=RUN_ID)) == RunCommand("cancel", RUN_ID)
    assert parse_command(_data("status", run_id=RUN_ID)) == StatusCommand(RUN_ID)
    assert parse_command({"type": 1, "name": "status"}) == StatusCommand(None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ["plan"]}, "unknown command"),
        (_data("plan") | {"options": {"repository": "a/b"}}, "/plan options must be a list"),
        ({"name": "plan", "options": ["repository"]}, "/plan has no option None"),
        (_data("approve"), "/approve is missing required option(s): run_id"),
        (_data("status", run_id=""), "/status option run_id must be 20 to 20 characters long"),
        (_data("status", run_id="x" * 21), "/status option run_id must be 20 to 20 characters long"),
        (_data("ship", run_id="run-0123456789ABCDEF"), "/ship run_id must look like run-"),
        (_data("ship", run_id=1), "/ship option run_id must be a string"),
        (_data("plan", repository="-org/widgets"), "/plan repository must be owner/name"),
        (_data("plan", repository="octo/widgets/extra"), "/plan repository must be owner/name"),
        (_data("plan", repository="octo/wid\ud800"), "/plan option repository is not valid Unicode"),
    ],
)
def test_refuses_invocations_that_do_not_match_the_definitions(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidCommand, match=re.escape(message)):
        parse_command(data)
