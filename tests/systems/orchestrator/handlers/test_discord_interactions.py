import base64
import copy
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import boto3
import pytest
from nacl.signing import SigningKey

from systems.orchestrator.handlers.run_store import run_id_for
from tests.systems.orchestrator.handlers.support import REGION, START, FrozenClock

Build = Callable[..., dict[str, Any]]
Call = Callable[[Mapping[str, Any]], tuple[int, Any]]

INTERACTION_ID = "1234567890123456789"
PING = {"type": 1, "id": "1", "application_id": "2"}
REPOSITORY_OPTION = {"name": "repository", "type": 3, "value": "octo-org/widgets"}


def issue_option(value: Any, option_type: int = 4) -> dict[str, Any]:
    return {"name": "issue", "type": option_type, "value": value}


def plan_options(*options: dict[str, Any], interaction_id: str = INTERACTION_ID) -> dict[str, Any]:
    """A /plan interaction from a server member, as Discord sends it."""
    return {
        "type": 2,
        "id": interaction_id,
        "data": {"type": 1, "name": "plan", "options": list(options)},
        "member": {"user": {"id": "80351110224678912", "username": "nelly"}},
    }


PLAN = plan_options(REPOSITORY_OPTION, issue_option(42))


def plan_with(**changes: Any) -> dict[str, Any]:
    """PLAN with top-level fields replaced (or removed when given None)."""
    interaction = copy.deepcopy(PLAN)
    for key, value in changes.items():
        if value is None:
            interaction.pop(key)
        else:
            interaction[key] = value
    return interaction


def status(run_id: str | None = None) -> dict[str, Any]:
    options = [] if run_id is None else [{"name": "run_id", "type": 3, "value": run_id}]
    return {
        "type": 2,
        "id": "999",
        "data": {"type": 1, "name": "status", "options": options},
        "member": {"user": {"id": "1", "username": "nelly"}},
    }


def content(reply: Any) -> str:
    assert reply["type"] == 4
    assert reply["data"]["allowed_mentions"] == {"parse": []}
    return reply["data"]["content"]


def test_ping_is_answered_with_pong(discord_request: Build, call_discord: Call, count_runs: Callable[[], int]) -> None:
    assert call_discord(discord_request(PING)) == (200, {"type": 1})
    assert count_runs() == 0


def test_base64_encoded_body_is_verified_as_sent(discord_request: Build, call_discord: Call) -> None:
    event = discord_request(PING)
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert call_discord(event) == (200, {"type": 1})


def test_plan_queues_exactly_one_run(discord_request: Build, call_discord: Call, runs_table: Any) -> None:
    status_code, reply = call_discord(discord_request(PLAN))

    run_id = run_id_for("discord", INTERACTION_ID)
    assert status_code == 200
    assert content(reply) == f"Run `{run_id}` queued for octo-org/widgets#42."
    items = runs_table.scan()["Items"]
    assert items == [
        {
            "run_id": run_id,
            "run_month": "2026-11",
            "created_at": "2026-11-03T12:00:00.000000Z",
            "expires_at": int((START + timedelta(days=90)).timestamp()),
            "status": "queued",
            "source": "discord",
            "repository": "octo-org/widgets",
            "issue": 42,
            "requested_by": "nelly",
        }
    ]


def test_plan_from_a_direct_message_records_the_user(
    discord_request: Build, call_discord: Call, runs_table: Any
) -> None:
    interaction = plan_with(member=None, user={"id": "5", "username": "dm-user"})
    assert call_discord(discord_request(interaction))[0] == 200
    assert runs_table.scan()["Items"][0]["requested_by"] == "dm-user"


def test_replayed_plan_does_not_queue_a_second_run(
    discord_request: Build, call_discord: Call, count_runs: Callable[[], int]
) -> None:
    event = discord_request(PLAN)
    call_discord(event)

    status_code, reply = call_discord(event)

    run_id = run_id_for("discord", INTERACTION_ID)
    assert status_code == 200
    assert content(reply) == f"Run `{run_id}` was already queued for this request."
    assert count_runs() == 1


def test_status_reports_one_run(discord_request: Build, call_discord: Call) -> None:
    call_discord(discord_request(PLAN))
    run_id = run_id_for("discord", INTERACTION_ID)

    status_code, reply = call_discord(discord_request(status(run_id)))

    assert status_code == 200
    assert content(reply) == (
        f"`{run_id}` queued: octo-org/widgets#42, requested by nelly via discord at 2026-11-03T12:00:00.000000Z"
    )


def test_status_of_an_unknown_run(discord_request: Build, call_discord: Call) -> None:
    status_code, reply = call_discord(discord_request(status("discord-0000000000000000")))
    assert status_code == 200
    assert content(reply) == "No run `discord-0000000000000000`."


def test_status_lists_the_five_most_recent_runs_newest_first(
    discord_request: Build,
    call_discord: Call,
    frozen_clock: FrozenClock,
    count_runs: Callable[[], int],
) -> None:
    for issue in range(1, 7):
        interaction = plan_options(REPOSITORY_OPTION, issue_option(issue), interaction_id=f"interaction-{issue}")
        call_discord(discord_request(interaction))
        frozen_clock.advance(60)

    status_code, reply = call_discord(discord_request(status()))

    assert status_code == 200
    lines = content(reply).splitlines()
    assert lines[0] == "Recent runs:"
    assert [line.split(": ")[1].split(",")[0] for line in lines[1:]] == [
        f"octo-org/widgets#{issue}" for issue in (6, 5, 4, 3, 2)
    ]
    assert count_runs() == 6


def test_status_with_no_runs(discord_request: Build, call_discord: Call) -> None:
    assert content(call_discord(discord_request(status()))[1]) == "No runs this month or last."


def test_a_timestamp_exactly_five_minutes_old_is_accepted(
    discord_request: Build, call_discord: Call, frozen_clock: FrozenClock
) -> None:
    signed_at = int(frozen_clock.now.timestamp()) - 300
    assert call_discord(discord_request(PING, timestamp=signed_at))[0] == 200


def _without_header(name: str) -> Callable[[Build, FrozenClock], dict[str, Any]]:
    def mutate(build: Build, clock: FrozenClock) -> dict[str, Any]:
        event = build(PLAN)
        del event["headers"][name]
        return event

    return mutate


def _with_header(name: str, value: str) -> Callable[[Build, FrozenClock], dict[str, Any]]:
    def mutate(build: Build, clock: FrozenClock) -> dict[str, Any]:
        event = build(PLAN)
        event["headers"][name] = value
        return event

    return mutate


def _shortened_signature(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["headers"]["x-signature-ed25519"] = event["headers"]["x-signature-ed25519"][:-2]
    return event


def _tampered_body(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["body"] = event["body"].replace('"value": 42', '"value": 43')
    return event


def _tampered_timestamp(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["headers"]["x-signature-timestamp"] = str(int(clock.now.timestamp()) + 1)
    return event


def _invalid_base64(build: Build, clock: FrozenClock) -> dict[str, Any]:
    event = build(PLAN)
    event["isBase64Encoded"] = True
    return event


def _signed(payload: Any, **options: Any) -> Callable[[Build, FrozenClock], dict[str, Any]]:
    return lambda build, clock: build(payload, **options)


def _signed_at(offset_seconds: int) -> Callable[[Build, FrozenClock], dict[str, Any]]:
    return lambda build, clock: build(PLAN, timestamp=int(clock.now.timestamp()) + offset_seconds)


REJECTED = [
    ("no signature", _without_header("x-signature-ed25519"), 401, "missing x-signature"),
    ("no timestamp", _without_header("x-signature-timestamp"), 401, "missing x-signature"),
    ("signature not hex", _with_header("x-signature-ed25519", "zz" * 64), 401, "128 hex"),
    ("signature too short", _shortened_signature, 401, "128 hex"),
    ("timestamp not a number", _with_header("x-signature-timestamp", "yesterday"), 401, "unix seconds"),
    ("signed by another key", _signed(PLAN, key=SigningKey.generate()), 401, "invalid request signature"),
    ("tampered body", _tampered_body, 401, "invalid request signature"),
    ("tampered timestamp", _tampered_timestamp, 401, "invalid request signature"),
    ("stale timestamp", _signed_at(-301), 401, "more than 5 minutes"),
    ("future timestamp", _signed_at(301), 401, "more than 5 minutes"),
    ("body not base64", _invalid_base64, 400, "not valid base64"),
    ("body not JSON", _signed(b"plan octo-org/widgets 42"), 400, "not valid JSON"),
    ("body not an object", _signed(b"[1, 2]"), 400, "must be a JSON object"),
    ("unknown interaction type", _signed(plan_with(type=3)), 400, "unsupported interaction type: 3"),
    ("no interaction type", _signed(plan_with(type=None)), 400, "unsupported interaction type: None"),
    ("no command data", _signed(plan_with(data=None)), 400, "unknown command: None"),
    (
        "unknown command",
        _signed(plan_with(data={"type": 1, "name": "deploy", "options": []})),
        400,
        "unknown command: 'deploy'",
    ),
    ("missing issue", _signed(plan_options(REPOSITORY_OPTION)), 400, "missing required option(s): issue"),
    ("issue zero", _signed(plan_options(REPOSITORY_OPTION, issue_option(0))), 400, "issue must be at least 1"),
    ("issue as text", _signed(plan_options(REPOSITORY_OPTION, issue_option("42", 3))), 400, "must be an integer"),
    ("issue as boolean", _signed(plan_options(REPOSITORY_OPTION, issue_option(True))), 400, "must be an integer"),
    (
        "repository without owner",
        _signed(plan_options(REPOSITORY_OPTION | {"value": "widgets"}, issue_option(42))),
        400,
        "repository must be owner/name",
    ),
    (
        "repository named ..",
        _signed(plan_options(REPOSITORY_OPTION | {"value": "octo-org/.."}, issue_option(42))),
        400,
        "repository must be owner/name",
    ),
    (
        "unknown option",
        _signed(plan_options(REPOSITORY_OPTION, issue_option(42), {"name": "priority", "type": 4, "value": 1})),
        400,
        "no option 'priority'",
    ),
    (
        "option given twice",
        _signed(plan_options(REPOSITORY_OPTION, issue_option(42), issue_option(43))),
        400,
        "option issue was given twice",
    ),
    ("no interaction id", _signed(plan_with(id=None)), 400, "interaction has no id"),
    ("no user", _signed(plan_with(member=None)), 400, "interaction has no user"),
]


@pytest.mark.parametrize(
    ("make_event", "expected_status", "expected_error"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_rejected_requests_write_nothing(
    discord_request: Build,
    call_discord: Call,
    frozen_clock: FrozenClock,
    count_runs: Callable[[], int],
    make_event: Callable[[Build, FrozenClock], dict[str, Any]],
    expected_status: int,
    expected_error: str,
) -> None:
    status_code, reply = call_discord(make_event(discord_request, frozen_clock))

    assert status_code == expected_status
    assert expected_error in reply["error"]
    assert count_runs() == 0


def test_public_key_is_cached_for_five_minutes_then_reread(
    discord_request: Build,
    call_discord: Call,
    frozen_clock: FrozenClock,
    signing_key: SigningKey,
    discord_public_key_secret: str,
) -> None:
    rotated = SigningKey.generate()
    assert call_discord(discord_request(PING))[0] == 200
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=discord_public_key_secret, SecretString=rotated.verify_key.encode().hex()
    )

    frozen_clock.advance(299)
    assert call_discord(discord_request(PING))[0] == 200
    assert call_discord(discord_request(PING, key=rotated))[0] == 401

    frozen_clock.advance(1)
    assert call_discord(discord_request(PING, key=rotated))[0] == 200
    assert call_discord(discord_request(PING, key=signing_key))[0] == 401
