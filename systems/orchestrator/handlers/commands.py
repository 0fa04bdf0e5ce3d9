"""The slash commands: the definitions registered with Discord, and parsing their invocations.

``COMMANDS`` is in Discord's application-command JSON shape; the infrastructure
registers exactly this list through the bulk-overwrite API, and ``parse_command``
checks every invocation against the same list, so the two cannot drift.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, cast

from .payload import REPOSITORY_PATTERN, RUN_ID_PATTERN, encodable

CHAT_INPUT = 1
STRING = 3


class CommandOption(TypedDict):
    type: int
    name: str
    description: str
    required: bool
    min_length: int
    max_length: int


class Command(TypedDict):
    type: int
    name: str
    description: str
    options: list[CommandOption]


def _run_id_option(description: str, required: bool) -> CommandOption:
    return {
        "type": STRING,
        "name": "run_id",
        "description": description,
        "required": required,
        "min_length": RUN_ID_LENGTH,
        "max_length": RUN_ID_LENGTH,
    }


RUN_ID_LENGTH = len("run-") + 16

COMMANDS: list[Command] = [
    {
        "type": CHAT_INPUT,
        "name": "plan",
        "description": "Propose a run of the repository's open issues labelled ready",
        "options": [
            {
                "type": STRING,
                "name": "repository",
                "description": "Repository as owner/name (omit for the server's default)",
                "required": False,
                "min_length": 3,
                "max_length": 140,
            },
        ],
    },
    {
        "type": CHAT_INPUT,
        "name": "approve",
        "description": "Approve a proposed run: its workflow is dispatched for each issue",
        "options": [_run_id_option("Run id reported by /plan", True)],
    },
    {
        "type": CHAT_INPUT,
        "name": "ship",
        "description": "Ship a finished run once its pull requests are merged, closing its issues",
        "options": [_run_id_option("Run id reported by /plan", True)],
    },
    {
        "type": CHAT_INPUT,
        "name": "cancel",
        "description": "Cancel a proposed run",
        "options": [_run_id_option("Run id reported by /plan", True)],
    },
    {
        "type": CHAT_INPUT,
        "name": "status",
        "description": "Show one run with its tasks, or the recent runs",
        "options": [_run_id_option("Run id (omit for the recent runs)", False)],
    },
]

_COMMANDS_BY_NAME = {command["name"]: command for command in COMMANDS}


class InvalidCommand(ValueError):
    """An invocation that does not match its registered definition."""


@dataclass(frozen=True)
class PlanCommand:
    repository: str | None
    """None: the guild's default repository."""


@dataclass(frozen=True)
class RunCommand:
    """A command about one run: /approve, /ship or /cancel."""

    name: Literal["approve", "ship", "cancel"]
    run_id: str


@dataclass(frozen=True)
class StatusCommand:
    run_id: str | None


def parse_command(data: Mapping[str, Any]) -> PlanCommand | RunCommand | StatusCommand:
    """Parse an APPLICATION_COMMAND interaction's ``data``, or raise ``InvalidCommand``."""
    name = data.get("name")
    command = _COMMANDS_BY_NAME.get(name) if isinstance(name, str) else None
    if command is None:
        raise InvalidCommand(f"unknown command: {name!r}")
    # _option_values enforced presence, types and lengths from COMMANDS.
    values = _option_values(command, data.get("options", []))
    run_id = values.get("run_id")
    if run_id is not None and not RUN_ID_PATTERN.fullmatch(run_id):
        raise InvalidCommand(f"/{command['name']} run_id must look like run-0123456789abcdef")
    if command["name"] == "plan":
        repository = values.get("repository")
        if repository is not None and not REPOSITORY_PATTERN.fullmatch(repository):
            raise InvalidCommand(f"/plan repository must be owner/name, got {repository!r}")
        return PlanCommand(repository=repository)
    if command["name"] == "status":
        return StatusCommand(run_id=run_id)
    # approve, ship and cancel require run_id.
    return RunCommand(name=cast(Literal["approve", "ship", "cancel"], command["name"]), run_id=cast(str, run_id))


def _option_values(command: Command, options: object) -> dict[str, str]:
    if not isinstance(options, list):
        raise InvalidCommand(f"/{command['name']} options must be a list")
    definitions = {option["name"]: option for option in command["options"]}
    values: dict[str, str] = {}
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


def _checked_value(command_name: str, definition: CommandOption, value: object) -> str:
    # COMMANDS declares only STRING options.
    where = f"/{command_name} option {definition['name']}"
    if not isinstance(value, str):
        raise InvalidCommand(f"{where} must be a string")
    shortest, longest = definition["min_length"], definition["max_length"]
    if not shortest <= len(value) <= longest:
        raise InvalidCommand(f"{where} must be {shortest} to {longest} characters long")
    if not encodable(value):
        raise InvalidCommand(f"{where} is not valid Unicode (a lone surrogate)")
    return value
