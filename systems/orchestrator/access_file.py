"""The orchestrator's access file: the Discord guilds it serves, who may approve, which repositories.

Data, validated like the delivery file (one line naming the file and field), and handed to
the functions as JSON in ``ORCHESTRATOR_ACCESS``, the shape ``handlers/access.py`` reads:

```yaml
guilds:
  - id: "1300000000000000100"          # the Discord server
    approver_roles: ["1300000000000000200"]   # roles whose members may /approve, /ship, /cancel
    default_repository: octo-org/widgets       # optional: /plan without a repository
    repositories:
      - name: octo-org/widgets
        workflow: orchestra.yml        # dispatched once per task (workflow_dispatch)
        ref: main                      # the branch it is dispatched on
        channel: "1300000000000000300" # where the repository's runs are reported
```
A repository belongs to one guild only: its webhooks are reported to that guild's channel.
GitHub's names are case-insensitive, and so are the checks that a name is listed once.
"""

import json
from pathlib import Path
from typing import Annotated

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator

from stack_config.data_file import load_data_file

from .handlers.payload import REPOSITORY_PATTERN

# Lambda allows 4 KB for all of a function's environment variables together.
MAX_ENVIRONMENT_BYTES = 3072

_SNOWFLAKE = r"^[0-9]{15,21}$"


class AccessFileError(pulumi.RunError):
    """A bad access file; it stops the program with one line before anything is declared."""


class _Strict(BaseModel):
    # Python's engine: GitHub's naming rules need look-arounds.
    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")


class RepositoryAccess(_Strict):
    name: str = Field(pattern=f"^{REPOSITORY_PATTERN.pattern}$")
    workflow: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}\.ya?ml$")
    ref: str = Field(default="main", pattern=r"^(?!.*\.\.)(?!/)[A-Za-z0-9._/-]{1,100}(?<![./])$")
    channel: str = Field(pattern=_SNOWFLAKE)


class GuildAccess(_Strict):
    id: str = Field(pattern=_SNOWFLAKE)
    approver_roles: list[Annotated[str, Field(pattern=_SNOWFLAKE)]] = Field(min_length=1)
    default_repository: str | None = None
    repositories: list[RepositoryAccess] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "GuildAccess":
        names = [repository.name.lower() for repository in self.repositories]
        if len(set(names)) != len(names):
            raise ValueError("a repository is listed twice")
        if self.default_repository is not None and self.default_repository.lower() not in names:
            raise ValueError(f"default_repository {self.default_repository!r} is not among the guild's repositories")
        return self


class AccessFile(_Strict):
    guilds: list[GuildAccess]

    @model_validator(mode="after")
    def _each_once(self) -> "AccessFile":
        ids = [guild.id for guild in self.guilds]
        if len(set(ids)) != len(ids):
            raise ValueError("a guild is listed twice")
        names = [repository.name.lower() for guild in self.guilds for repository in guild.repositories]
        if len(set(names)) != len(names):
            raise ValueError("a repository belongs to two guilds")
        return self

    def to_environment(self) -> str:
        return json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))


NO_ACCESS = AccessFile(guilds=[])


def load_access_file(path: Path) -> AccessFile:
    access = load_data_file(path, AccessFile, AccessFileError)
    size = len(access.to_environment().encode())
    if size > MAX_ENVIRONMENT_BYTES:
        raise AccessFileError(
            f"{path}: lists too much for a function's environment ({size} > {MAX_ENVIRONMENT_BYTES} bytes)"
        )
    return access
