"""Who may do what: the guilds the bot serves, their approver roles and their repositories.

The infrastructure validates the access file and hands it to each function as JSON in
``ORCHESTRATOR_ACCESS``; this is its reading at run time. Its shape is
``{"guilds": [{"id", "approver_roles": [...], "default_repository": str | null,
"repositories": [{"name", "workflow", "ref", "channel"}]}]}``.

GitHub takes ``Octo-Org/Widgets`` and ``octo-org/widgets`` for one repository, so repositories
are looked up by their name in lower case; the access file's spelling is the one kept.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from . import contract


@dataclass(frozen=True)
class Repository:
    name: str
    """owner/name"""
    workflow: str
    """The workflow file dispatched per task, e.g. ``orchestra.yml``."""
    ref: str
    """The branch the workflow is dispatched on."""
    channel: str
    """The Discord channel told about the repository's runs."""
    guild: str


@dataclass(frozen=True)
class Guild:
    id: str
    approver_roles: frozenset[str]
    default_repository: str | None
    repositories: Mapping[str, Repository]
    """Keyed by the name in lower case."""

    def repository(self, name: str) -> Repository | None:
        return self.repositories.get(name.lower())


@dataclass(frozen=True)
class Access:
    guilds: Mapping[str, Guild]
    repositories: Mapping[str, Repository]
    """Keyed by the name in lower case."""

    def repository(self, name: str) -> Repository | None:
        return self.repositories.get(name.lower())

    @classmethod
    def from_json(cls, text: str) -> "Access":
        guilds: dict[str, Guild] = {}
        repositories: dict[str, Repository] = {}
        for guild in json.loads(text)["guilds"]:
            own = {
                entry["name"].lower(): Repository(
                    entry["name"], entry["workflow"], entry["ref"], entry["channel"], guild["id"]
                )
                for entry in guild["repositories"]
            }
            guilds[guild["id"]] = Guild(
                guild["id"], frozenset(guild["approver_roles"]), guild.get("default_repository"), own
            )
            repositories.update(own)
        return cls(guilds, repositories)


def from_environment() -> Access:
    return Access.from_json(os.environ[contract.ORCHESTRATOR_ACCESS])
