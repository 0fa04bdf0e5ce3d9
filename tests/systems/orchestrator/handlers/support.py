"""Values and types shared by the handler tests and their fixtures."""

import json
from datetime import UTC, datetime, timedelta

REGION = "us-east-1"
WEBHOOK_PARAMETER = "/orchestra/test/github-webhook-secret"
START = datetime(2026, 11, 3, 12, 0, 0, tzinfo=UTC)


class FrozenClock:
    """Stands in for ``handlers.clock.now``; time moves only when a test advances it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


GUILD = "1300000000000000100"
OTHER_GUILD = "1300000000000000999"
APPROVER_ROLE = "1300000000000000200"
REPOSITORY = "octo-org/widgets"
SECOND_REPOSITORY = "octo-org/gadgets"
CHANNEL = "1300000000000000300"
WORKFLOW = "orchestra.yml"

# What the infrastructure hands the functions in ORCHESTRATOR_ACCESS.
ACCESS = json.dumps(
    {
        "guilds": [
            {
                "id": GUILD,
                "approver_roles": [APPROVER_ROLE],
                "default_repository": REPOSITORY,
                "repositories": [
                    {"name": REPOSITORY, "workflow": WORKFLOW, "ref": "main", "channel": CHANNEL},
                    {"name": SECOND_REPOSITORY, "workflow": WORKFLOW, "ref": "main", "channel": CHANNEL},
                ],
            },
            {
                "id": OTHER_GUILD,
                "approver_roles": [APPROVER_ROLE],
                "default_repository": None,
                "repositories": [
                    {"name": "other-org/secret", "workflow": WORKFLOW, "ref": "main", "channel": "1300000000000000301"}
                ],
            },
        ]
    }
)

INTERACTION_ID = "1234567890123456789"
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpzZWNyZXQ"


def interaction(
    name: str,
    options: dict[str, str] | None = None,
    *,
    interaction_id: str = INTERACTION_ID,
    token: str = INTERACTION_TOKEN,
    guild: str | None = GUILD,
    roles: tuple[str, ...] = (APPROVER_ROLE,),
    username: str = "nelly",
) -> dict[str, object]:
    """A slash command as Discord sends it: from a guild member, or (guild None) in a direct message."""
    sent: dict[str, object] = {
        "type": 2,
        "id": interaction_id,
        "application_id": "1300000000000000001",
        "token": token,
        "data": {
            "type": 1,
            "name": name,
            "options": [{"name": key, "type": 3, "value": value} for key, value in (options or {}).items()],
        },
    }
    user = {"id": "80351110224678912", "username": username}
    if guild is None:
        sent["user"] = user
    else:
        sent |= {"guild_id": guild, "member": {"user": user, "roles": list(roles)}}
    return sent
