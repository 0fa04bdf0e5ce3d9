"""The slash commands: the definitions registered with Discord, and parsing their invocations.

``COMMANDS`` is in Discord's application-command JSON shape; the infrastructure
registers exactly this list through the bulk-overwrite API, and ``parse_command``
checks every invocation against the same list, so the two cannot drift.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, cast

CHAT_INPUT = 1
STRING = 3
INTEGER = 4


class CommandOption(TypedDict):
    type: int
    name: str
    description: str
    required: bool
    min_value: NotRequired[int]
    min_length: NotRequired[int]
    max_length: NotRequired[int]


class Command(TypedDict):
    type: int
    name: str
    description: str
    options: list[CommandOption]


COMMANDS: list[Command] = [
    {
        "type": CHAT_INPUT,
        "name": "plan",
        "description": "Queue a planning run for a GitHub issue",
        "options": [
            {
                "type": STRING,
                "name": "repository",
                "description": "Repository as owner/name",
                "required": True,
                "min_length": 3,
                "max_length": 140,
            },
            {
                "type": INTEGER,
                "name": "issue",
                "description": "Issue number",
                "required": True,
                "min_value": 1,
            },
        ],
    },
    {
        "type": CHAT_INPUT,
        "name": "status",
        "description": "Show one run, or the most recent runs",
        "options": [
            {
                "type": STRING,
                "name": "run_id",
                "description": "Run id reported by /plan (omit for the recent runs)",
                "required": False,
                "min_length": 1,
                "max_length": 64,
            },
        ],
    },
]

# GitHub's rules: owner is 1-39 letters, digits or inner hyphens; name is letters, digits, . _ -
# and never "." or "..".
REPOSITORY_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.\.?$)[A-Za-z0-9._-]{1,100}")

_COMMANDS_BY_NAME = {command["name"]: command for command in COMMANDS}


class InvalidCommand(ValueError):
    """An invocation that does not match its registered definition."""


@dataclass(frozen=True)
class PlanCommand:
    repository: str
    issue: int


@dataclass(frozen=True)
class StatusCommand:
    run_id: str | None


def parse_command(data: Mapping[str, Any]) -> PlanCommand | StatusCommand:
    """Parse an APPLICATION_COMMAND interaction's ``data``, or raise ``InvalidCommand``."""
    name = data.get("name")
    command = _COMMANDS_BY_NAME.get(name) if isinstance(name, str) else None
    if command is None:
        raise InvalidCommand(f"unknown command: {name!r}")
    values = _option_values(command, data.get("options", []))
    if command["name"] == "plan":
        # _option_values enforced both options' presence and types from COMMANDS.
        repository, issue = cast(str, values["repository"]), cast(int, values["issue"])
        if not REPOSITORY_PATTERN.fullmatch(repository):
            raise InvalidCommand(f"/plan repository must be owner/name, got {repository!r}")
        return PlanCommand(repository=repository, issue=issue)
    return StatusCommand(run_id=cast(str | None, values.get("run_id")))


def _option_values(command: Command, options: object) -> dict[str, str | int]:
    if not isinstance(options, list):
        raise InvalidCommand(f"/{command['name']} options must be a list")
    definitions = {option["name"]: option for option in command["options"]}
    values: dict[str, str | int] = {}
    for option in options:
        name = option.get("name") if isinstance(option, dict) else None
        if name not in definitions:
            raise InvalidCommand(f"/{command['name']} has no option {name!r}")
        if name in values:
            raise InvalidCommand(f"/{command['name']} option {name} was given twice")
        values[name] = _checked_value(command["name"], definitions[name], option.get("value"))
    missing = [name for name, definition in definitions.items() if definition["required"] and name not in values]
    if missing:
        raise InvalidCommand(f"/{command['name']} is missing required option(s): {', '.join(missing)}")
    return values


def _checked_value(command_name: str, definition: CommandOption, value: object) -> str | int:
    where = f"/{command_name} option {definition['name']}"
    # COMMANDS declares only STRING and INTEGER options.
    if definition["type"] == STRING:
        if not isinstance(value, str):
            raise InvalidCommand(f"{where} must be a string")
        # Discord's own limits apply where the definition sets none.
        shortest, longest = definition.get("min_length", 0), definition.get("max_length", 6000)
        if not shortest <= len(value) <= longest:
            raise InvalidCommand(f"{where} must be {shortest} to {longest} characters long")
        return value
    # bool is an int in Python but never a Discord integer.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidCommand(f"{where} must be an integer")
    minimum = definition.get("min_value")
    if minimum is not None and value < minimum:
        raise InvalidCommand(f"{where} must be at least {minimum}")
    return value
