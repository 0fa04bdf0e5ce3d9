"""Input an attacker sends, correctly signed (a leaked secret, a malicious repository's webhook):
each is a 4xx with a JSON error, and nothing is written or queued."""

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.systems.orchestrator.handlers.conftest import WorkQueue
from tests.systems.orchestrator.handlers.support import REPOSITORY, interaction

Build = Callable[..., dict[str, Any]]
Call = Callable[[Mapping[str, Any]], tuple[int, Any]]

DEEP = 100_000
BEYOND_DYNAMODB = 10**40  # DynamoDB numbers hold 38 digits
OVER_ITEM_LIMIT = "x" * 410_000  # DynamoDB items hold 400 KB
LONE_SURROGATE = "\ud800"


def nested(depth: int) -> bytes:
    return b'{"type": 2, "data": ' + b"[" * depth + b"]" * depth + b"}"


def labeled_ready(**issue: Any) -> dict[str, Any]:
    return {
        "action": "labeled",
        "label": {"name": "ready"},
        "issue": {"number": 7, "title": "Add a widget", "state": "open"} | issue,
        "repository": {"full_name": REPOSITORY},
        "sender": {"login": "hubot"},
    }


def discord_user(username: str) -> dict[str, Any]:
    sent = interaction("plan")
    sent["member"]["user"]["username"] = username  # type: ignore[index]
    return sent


def as_json(payload: Any) -> bytes:
    # Python's encoder writes a lone surrogate as the escape \ud800, as an attacker would.
    return json.dumps(payload).encode()


DISCORD = [
    ("JSON nested 100,000 deep", nested(DEEP), 400, "nested too deeply"),
    ("integer beyond 38 digits as the type", as_json(interaction("plan") | {"type": BEYOND_DYNAMODB}), 400, "type"),
    (
        "integer beyond 38 digits as an option",
        as_json(
            interaction("status")
            | {"data": {"name": "status", "options": [{"name": "run_id", "type": 4, "value": BEYOND_DYNAMODB}]}}
        ),
        400,
        "must be a string",
    ),
    ("integer of 5,000 digits", b'{"type": ' + b"9" * 5000 + b"}", 400, "not valid JSON"),
    ("username over the item limit", as_json(discord_user(OVER_ITEM_LIMIT)), 400, "at most 32 characters"),
    ("username with a lone surrogate", as_json(discord_user("nel" + LONE_SURROGATE)), 400, "lone surrogate"),
    (
        "option with a lone surrogate",
        as_json(interaction("plan", {"repository": "octo-org/wid" + LONE_SURROGATE})),
        400,
        "lone surrogate",
    ),
    ("body over 1 MiB", as_json(interaction("plan") | {"padding": "x" * 1_100_000}), 413, "larger than"),
    ("body not UTF-8", b'{"type": 2, "id": "\xff\xfe"}', 400, "not valid JSON"),
]


@pytest.mark.parametrize(("body", "status", "error"), [c[1:] for c in DISCORD], ids=[c[0] for c in DISCORD])
def test_discord_refuses_and_writes_nothing(
    discord_request: Build,
    call_discord: Call,
    count_runs: Callable[[], int],
    work: WorkQueue,
    body: bytes,
    status: int,
    error: str,
) -> None:
    status_code, reply = call_discord(discord_request(body))
    assert (status_code, error in reply["error"]) == (status, True)
    assert (count_runs(), work.count()) == (0, 0)


GITHUB = [
    ("JSON nested 100,000 deep", "issues", nested(DEEP), 400, "nested too deeply"),
    ("issue number beyond 38 digits", "issues", as_json(labeled_ready(number=BEYOND_DYNAMODB)), 400, "issue.number"),
    ("issue number negative", "issues", as_json(labeled_ready(number=-7)), 400, "issue.number"),
    ("title over the item limit", "issues", as_json(labeled_ready(title=OVER_ITEM_LIMIT)), 400, "at most 256"),
    ("title with a lone surrogate", "issues", as_json(labeled_ready(title="A" + LONE_SURROGATE)), 400, "surrogate"),
    (
        "sender with a lone surrogate",
        "issues",
        as_json(labeled_ready() | {"sender": {"login": "hu" + LONE_SURROGATE}}),
        400,
        "sender.login",
    ),
    (
        "repository with a lone surrogate",
        "issues",
        as_json(labeled_ready() | {"repository": {"full_name": "octo/wid" + LONE_SURROGATE}}),
        400,
        "repository.full_name",
    ),
    (
        "workflow run id beyond 38 digits",
        "workflow_run",
        as_json(
            {
                "action": "completed",
                "repository": {"full_name": REPOSITORY},
                "workflow_run": {
                    "id": BEYOND_DYNAMODB,
                    "display_title": "orchestra run-0123456789abcdef #7",
                    "conclusion": "success",
                },
            }
        ),
        400,
        "workflow_run.id",
    ),
    (
        "run name with an issue beyond 32 bits",
        "workflow_run",
        as_json(
            {
                "action": "completed",
                "repository": {"full_name": REPOSITORY},
                "workflow_run": {"id": 1, "display_title": "orchestra run-0123456789abcdef #9999999999"},
            }
        ),
        400,
        "issue",
    ),
    ("body over 1 MiB", "issues", as_json(labeled_ready(body="x" * 1_100_000)), 413, "larger than"),
]


@pytest.mark.parametrize(("event_name", "body", "status", "error"), [c[1:] for c in GITHUB], ids=[c[0] for c in GITHUB])
def test_github_refuses_and_writes_nothing(
    github_request: Build,
    call_github: Call,
    count_runs: Callable[[], int],
    work: WorkQueue,
    event_name: str,
    body: bytes,
    status: int,
    error: str,
) -> None:
    status_code, reply = call_github(github_request(event_name, body))
    assert (status_code, error in reply["error"]) == (status, True)
    assert (count_runs(), work.count()) == (0, 0)
