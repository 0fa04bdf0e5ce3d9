import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from systems.orchestrator.access_file import AccessFileError, load_access_file
from systems.orchestrator.handlers.access import Access

ROOT = Path(__file__).resolve().parents[3]

GUILD: dict[str, Any] = {
    "id": "1300000000000000100",
    "approver_roles": ["1300000000000000200"],
    "default_repository": "octo-org/widgets",
    "repositories": [{"name": "octo-org/widgets", "workflow": "orchestra.yml", "channel": "1300000000000000300"}],
}

# The same repository as GUILD's, spelt as GitHub also accepts it.
SHOUTED_REPOSITORY = GUILD["repositories"][0] | {"name": "Octo-Org/Widgets"}


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "access.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def error_of(tmp_path: Path, document: Any) -> str:
    with pytest.raises(AccessFileError) as raised:
        load_access_file(write(tmp_path, document))
    message = str(raised.value)
    assert "\n" not in message
    return message.removeprefix(f"{tmp_path / 'access.yaml'}: ")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_files_are_valid_and_read_back_by_the_handlers(stack: str) -> None:
    access = load_access_file(ROOT / f"orchestrator-access.{stack}.yaml")
    runtime = Access.from_json(access.to_environment())
    assert set(runtime.guilds) == {guild.id for guild in access.guilds}
    (guild,) = access.guilds
    assert runtime.repositories["octo-org/widgets"].guild == guild.id
    assert runtime.repositories["octo-org/widgets"].ref == "main"


def test_a_repository_defaults_to_the_main_branch(tmp_path: Path) -> None:
    access = load_access_file(write(tmp_path, {"guilds": [GUILD]}))
    assert json.loads(access.to_environment())["guilds"][0]["repositories"][0]["ref"] == "main"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"guilds": [GUILD | {"id": "guild"}]}, "guilds.0.id: String should match pattern"),
        ({"guilds": [GUILD | {"approver_roles": []}]}, "guilds.0.approver_roles: List should have at least 1 item"),
        ({"guilds": [GUILD | {"approver_roles": ["admins"]}]}, "guilds.0.approver_roles.0: String should match"),
        (
            {"guilds": [GUILD | {"default_repository": "octo-org/other"}]},
            "default_repository 'octo-org/other' is not among the guild's repositories",
        ),
        (
            {"guilds": [GUILD | {"repositories": GUILD["repositories"] * 2}]},
            "a repository is listed twice",
        ),
        (
            {"guilds": [GUILD | {"repositories": [*GUILD["repositories"], SHOUTED_REPOSITORY]}]},
            "a repository is listed twice",
        ),
        (
            {"guilds": [GUILD, GUILD | {"id": "1300000000000000101", "default_repository": None}]},
            "a repository belongs to two guilds",
        ),
        (
            {
                "guilds": [
                    GUILD,
                    GUILD
                    | {"id": "1300000000000000101", "default_repository": None, "repositories": [SHOUTED_REPOSITORY]},
                ]
            },
            "a repository belongs to two guilds",
        ),
        ({"guilds": [GUILD, GUILD]}, "a guild is listed twice"),
        (
            {"guilds": [GUILD | {"repositories": [GUILD["repositories"][0] | {"name": "octo-org/.."}]}]},
            "guilds.0.repositories.0.name: String should match pattern",
        ),
        (
            {"guilds": [GUILD | {"repositories": [GUILD["repositories"][0] | {"workflow": "../deploy.yml"}]}]},
            "guilds.0.repositories.0.workflow: String should match pattern",
        ),
        (
            {"guilds": [GUILD | {"repositories": [GUILD["repositories"][0] | {"ref": "main..x"}]}]},
            "guilds.0.repositories.0.ref: String should match pattern",
        ),
        ({"guilds": [GUILD | {"owner": "me"}]}, "guilds.0.owner: Extra inputs are not permitted"),
    ],
)
def test_a_bad_file_stops_with_one_line_naming_the_field(tmp_path: Path, document: Any, expected: str) -> None:
    assert expected in error_of(tmp_path, document)


def test_the_default_repository_may_be_spelt_in_another_case(tmp_path: Path) -> None:
    access = load_access_file(write(tmp_path, {"guilds": [GUILD | {"default_repository": "Octo-Org/Widgets"}]}))
    assert access.guilds[0].default_repository == "Octo-Org/Widgets"


def test_a_file_too_large_for_a_functions_environment_is_refused(tmp_path: Path) -> None:
    repositories = [
        {"name": f"octo-org/repository-{index:03}", "workflow": "orchestra.yml", "channel": "1300000000000000300"}
        for index in range(60)
    ]
    message = error_of(tmp_path, {"guilds": [GUILD | {"default_repository": None, "repositories": repositories}]})
    assert message.startswith("lists too much for a function's environment")
