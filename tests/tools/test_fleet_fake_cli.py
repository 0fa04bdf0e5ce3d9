"""The fake `pulumi` refuses what the real CLI refuses, so the fleet tests' "no refused call" means something."""

import pytest

from tests.tools.fake_pulumi import UsageError, parse

DEBUG = {"PULUMI_DEBUG_COMMANDS": "true"}


def test_the_automation_apis_arguments_parse() -> None:
    command, flags, positional = parse(
        [
            "--non-interactive",
            "up",
            "--yes",
            "--skip-preview",
            "--refresh",
            "--color",
            "never",
            "--event-log",
            "tcp://127.0.0.1:1",
            "--stack",
            "acme",
        ],
        DEBUG,
    )
    assert command == ("up",)
    assert flags["--refresh"] == ["true"] and flags["--stack"] == ["acme"] and positional == []


@pytest.mark.parametrize(
    ("argv", "environment", "message"),
    [
        (["up", "--force"], DEBUG, "unknown flag: --force"),
        (["refresh", "--refresh"], DEBUG, "unknown flag: --refresh"),
        (["preview", "--remove"], DEBUG, "unknown flag: --remove"),
        (["destroy", "--event-log", "x"], {}, "unknown flag: --event-log"),
        (["up", "--refresh", "false"], DEBUG, "unexpected arguments: false"),
        (["up", "--stack"], DEBUG, "flag needs an argument: --stack"),
        (["stack", "rm", "acme"], DEBUG, "unknown command 'stack rm' for \"pulumi\""),
    ],
)
def test_what_the_real_cli_refuses_is_refused(argv: list[str], environment: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=f"^{message}$"):
        parse(argv, environment)
