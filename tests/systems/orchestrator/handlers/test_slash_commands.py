import json
import re
from typing import Any

import pytest

from systems.orchestrator.handlers.commands import (
    COMMANDS,
    InvalidCommand,
    PlanCommand,
    StatusCommand,
    parse_command,
)

# Discord's rules for CHAT_INPUT commands and their options.
NAME = re.compile(r"[-_a-z0-9]{1,32}")


def test_definitions_are_plain_json_discord_accepts() -> None:
    assert json.loads(json.dumps(COMMANDS)) == COMMANDS
    assert [command["name"] for command in COMMANDS] == ["plan", "status"]
    for command in COMMANDS:
        assert command["type"] == 1
        assert NAME.fullmatch(command["name"])
        assert 1 <= len(command["description"]) <= 100
        required = [option["required"] for option in command["options"]]
        # Discord rejects a required option listed after an optional one.
        assert required == sorted(required, reverse=True)
        for option in command["options"]:
            assert option["type"] in (3, 4)
            assert NAME.fullmatch(option["name"])
            assert 1 <= len(option["description"]) <= 100


def test_plan_definition() -> None:
    plan = next(command for command in COMMANDS if command["name"] == "plan")
    assert [(option["name"], option["type"], option["required"]) for option in plan["options"]] == [
        ("repository", 3, True),
        ("issue", 4, True),
    ]


def _data(name: str, **values: Any) -> dict[str, Any]:
    return {"type": 1, "name": name, "options": [{"name": key, "value": value} for key, value in values.items()]}


def test_parses_plan() -> None:
    # Options may arrive in any order.
    assert parse_command(_data("plan", issue=3, repository="my-org-1/repo_name.js")) == PlanCommand(
        repository="my-org-1/repo_name.js", issue=3
    )


def test_parses_status_with_and_without_a_run_id() -> None:
    assert parse_command(_data("status", run_id="github-0123456789abcdef")) == StatusCommand(
        run_id="github-0123456789abcdef"
    )
    assert parse_command({"type": 1, "name": "status"}) == StatusCommand(run_id=None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ["plan"]}, "unknown command"),
        (_data("plan") | {"options": {"issue": 1}}, "/plan options must be a list"),
        ({"name": "plan", "options": ["issue"]}, "/plan has no option None"),
        (_data("status", run_id=""), "/status option run_id must be 1 to 64 characters long"),
        (_data("status", run_id="x" * 65), "/status option run_id must be 1 to 64 characters long"),
        (_data("plan", repository="a/b", issue=1.5), "/plan option issue must be an integer"),
        (_data("plan", repository="-org/widgets", issue=1), "/plan repository must be owner/name"),
        (_data("plan", repository="octo/widgets/extra", issue=1), "/plan repository must be owner/name"),
    ],
)
def test_refuses_invocations_that_do_not_match_the_definitions(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidCommand, match=re.escape(message)):
        parse_command(data)
