"""Input an attacker sends, correctly signed (a leaked secret, a malicious repository's webhook)
or not signed at all: each is a 4xx with a JSON error, and nothing is written or queued."""

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
    ("body not UTF-8", b'{"type": 2, "id": "\xff\xfe"}', 400, "not valid UTF-8"),
    ("body in UTF-16", json.dumps(interaction("plan")).encode("utf-16"), 400, "not valid UTF-8"),
    ("body in UTF-32", json.dumps(interaction("plan")).encode("utf-32"), 400, "not valid UTF-8"),
    ("surrogate encoded in the bytes", b'{"type": 2, "id": "\xed\xa0\x80"}', 400, "not valid UTF-8"),
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
    ("body in UTF-16", "issues", json.dumps(labeled_ready()).encode("utf-16"), 400, "not valid UTF-8"),
    (
        "surrogate encoded in the bytes",
        "issues",
        as_json(labeled_ready()).replace(b"Add a widget", b"Add \xed\xa0\x80"),
        400,
        "not valid UTF-8",
    ),
    (
        "conclusion with a lone surrogate",
        "workflow_run",
        as_json(
            {
                "action": "completed",
                "repository": {"full_name": REPOSITORY},
                "workflow_run": {
                    "id": 1,
                    "display_title": "orchestra run-0123456789abcdef #7",
                    "event": "workflow_dispatch",
                    "path": ".github/workflows/orchestra.yml",
                    "conclusion": "succ" + LONE_SURROGATE,
                },
            }
        ),
        400,
        "workflow_run.conclusion",
    ),
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


# Bodies as API Gateway's payload 2.0 could hand them over, unsigned: the Lambda runtime decodes
# the event's JSON, in which a \ud800 escape becomes a string no bytes correspond to.
UNREADABLE = [
    ("text with a lone surrogate", '{"type": 1, "note": "' + LONE_SURROGATE + '"}', False, "lone surrogate"),
    ("only a lone surrogate", LONE_SURROGATE, False, "lone surrogate"),
    ("base64 holding a lone surrogate", "eyJ0eXBlIjogMX0" + LONE_SURROGATE, True, "not valid base64"),
    ("base64 outside its alphabet", "eyJ0eXBlIjogMX0*", True, "not valid base64"),
    ("not a string", 7, False, "text or base64"),
]


def unsigned(body: object, base64_encoded: bool, **headers: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "headers": {"content-type": "application/json", **headers},
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


@pytest.mark.parametrize(
    ("body", "base64_encoded", "error"), [c[1:] for c in UNREADABLE], ids=[c[0] for c in UNREADABLE]
)
@pytest.mark.parametrize("endpoint", ["discord", "github"])
def test_a_body_with_no_bytes_to_verify_is_refused_and_writes_nothing(
    discord_request: Build,
    github_request: Build,
    call_discord: Call,
    call_github: Call,
    count_runs: Callable[[], int],
    work: WorkQueue,
    endpoint: str,
    body: object,
    base64_encoded: bool,
    error: str,
) -> None:
    call, headers = {
        "discord": (call_discord, {"x-signature-timestamp": "1", "x-signature-ed25519": "0" * 128}),
        "github": (call_github, {"x-github-event": "issues", "x-github-delivery": "1"}),
    }[endpoint]
    status_code, reply = call(unsigned(body, base64_encoded, **headers))
    assert (status_code, error in reply["error"]) == (400, True)
    assert (count_runs(), work.count()) == (0, 0)


SIGNED_HEADERS = [
    ("signature with a lone surrogate", "x-signature-ed25519", "a" * 127 + LONE_SURROGATE),
    ("timestamp with a lone surrogate", "x-signature-timestamp", "1" + LONE_SURROGATE),
    # int() reads these as 123, but they are not what Discord signs.
    ("timestamp in Arabic-Indic digits", "x-signature-timestamp", "\u0661\u0662\u0663"),
]


@pytest.mark.parametrize(("header", "value"), [c[1:] for c in SIGNED_HEADERS], ids=[c[0] for c in SIGNED_HEADERS])
def test_discord_signature_headers_that_are_not_ascii_are_unauthenticated(
    discord_request: Build,
    call_discord: Call,
    count_runs: Callable[[], int],
    work: WorkQueue,
    header: str,
    value: str,
) -> None:
    event = discord_request(interaction("plan"))
    event["headers"][header] = value
    status_code, _ = call_discord(event)
    assert (status_code, count_runs(), work.count()) == (401, 0, 0)


GITHUB_HEADERS = [
    ("signature with a lone surrogate", "x-hub-signature-256", "sha256=" + "a" * 63 + LONE_SURROGATE, 401),
    ("delivery id with a lone surrogate", "x-github-delivery", "72d3162e" + LONE_SURROGATE, 400),
    ("event name with a lone surrogate", "x-github-event", "issues" + LONE_SURROGATE, 400),
]


@pytest.mark.parametrize(
    ("header", "value", "status"), [c[1:] for c in GITHUB_HEADERS], ids=[c[0] for c in GITHUB_HEADERS]
)
def test_github_headers_with_lone_surrogates_are_refused(
    github_request: Build,
    call_github: Call,
    count_runs: Callable[[], int],
    work: WorkQueue,
    header: str,
    value: str,
    status: int,
) -> None:
    event = github_request("issues", labeled_ready())
    event["headers"][header] = value
    status_code, reply = call_github(event)
    assert (status_code, header in reply["error"] or "signature" in reply["error"]) == (status, True)
    assert (count_runs(), work.count()) == (0, 0)
