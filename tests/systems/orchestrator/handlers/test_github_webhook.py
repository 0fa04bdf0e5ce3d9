import copy
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest

from systems.orchestrator.handlers.run_store import run_id_for
from tests.systems.orchestrator.handlers.support import START, WEBHOOK_PARAMETER, FrozenClock

Build = Callable[..., dict[str, Any]]
Call = Callable[[Mapping[str, Any]], tuple[int, Any]]

DELIVERY_ID = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
LABELED_READY: dict[str, Any] = {
    "action": "labeled",
    "label": {"name": "ready"},
    "issue": {"number": 7, "title": "Add a widget"},
    "repository": {"full_name": "octo-org/widgets"},
    "sender": {"login": "hubot"},
}


def labeled_ready_with(**changes: Any) -> dict[str, Any]:
    """LABELED_READY with top-level fields replaced (or removed when given None)."""
    payload = copy.deepcopy(LABELED_READY)
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


def test_ping_is_acknowledged_without_a_run(
    github_request: Build, call_github: Call, count_runs: Callable[[], int]
) -> None:
    assert call_github(github_request("ping", {"zen": "Keep it logically awesome."})) == (200, {"ok": True})
    assert count_runs() == 0


def test_issue_labeled_ready_records_one_run(github_request: Build, call_github: Call, runs_table: Any) -> None:
    status_code, reply = call_github(github_request("issues", LABELED_READY))

    run_id = run_id_for("github", DELIVERY_ID)
    assert (status_code, reply) == (201, {"run_id": run_id, "duplicate": False})
    assert runs_table.scan()["Items"] == [
        {
            "run_id": run_id,
            "run_month": "2026-11",
            "created_at": "2026-11-03T12:00:00.000000Z",
            "expires_at": int(START.timestamp()) + 90 * 86400,
            "status": "queued",
            "source": "github",
            "repository": "octo-org/widgets",
            "issue": 7,
            "requested_by": "hubot",
            "delivery_id": DELIVERY_ID,
        }
    ]


def test_redelivery_is_a_duplicate_and_changes_nothing(
    github_request: Build, call_github: Call, runs_table: Any, frozen_clock: FrozenClock
) -> None:
    event = github_request("issues", LABELED_READY)
    call_github(event)
    frozen_clock.advance(3600)

    status_code, reply = call_github(event)

    assert (status_code, reply) == (200, {"run_id": run_id_for("github", DELIVERY_ID), "duplicate": True})
    items = runs_table.scan()["Items"]
    assert [item["created_at"] for item in items] == ["2026-11-03T12:00:00.000000Z"]


def test_a_new_delivery_for_the_same_issue_is_a_new_run(
    github_request: Build, call_github: Call, count_runs: Callable[[], int]
) -> None:
    call_github(github_request("issues", LABELED_READY))
    status_code, _ = call_github(github_request("issues", LABELED_READY, delivery_id="second-delivery"))
    assert status_code == 201
    assert count_runs() == 2


@pytest.mark.parametrize(
    "payload",
    [
        labeled_ready_with(label={"name": "bug"}),
        labeled_ready_with(action="unlabeled"),
        labeled_ready_with(action="opened", label=None),
    ],
    ids=["other label", "ready removed", "issue opened"],
)
def test_other_issue_events_are_ignored(
    github_request: Build, call_github: Call, count_runs: Callable[[], int], payload: dict[str, Any]
) -> None:
    status_code, reply = call_github(github_request("issues", payload))
    assert status_code == 202
    assert reply == {"ignored": True, "reason": "only issues labeled 'ready' start a run"}
    assert count_runs() == 0


def _without_header(name: str) -> Callable[[Build], dict[str, Any]]:
    def mutate(build: Build) -> dict[str, Any]:
        event = build("issues", LABELED_READY)
        del event["headers"][name]
        return event

    return mutate


def _with_header(name: str, value: str) -> Callable[[Build], dict[str, Any]]:
    def mutate(build: Build) -> dict[str, Any]:
        event = build("issues", LABELED_READY)
        event["headers"][name] = value
        return event

    return mutate


def _tampered_body(build: Build) -> dict[str, Any]:
    event = build("issues", LABELED_READY)
    event["body"] = event["body"].replace('"number": 7', '"number": 8')
    return event


def _signed(event_name: str, payload: Any, **options: Any) -> Callable[[Build], dict[str, Any]]:
    return lambda build: build(event_name, payload, **options)


REJECTED = [
    ("no signature", _without_header("x-hub-signature-256"), 401, "missing x-hub-signature-256"),
    ("sha1 signature", _with_header("x-hub-signature-256", "sha1=" + "0" * 40), 401, "sha256=<64 hex"),
    ("signature not hex", _with_header("x-hub-signature-256", "sha256=" + "z" * 64), 401, "sha256=<64 hex"),
    ("signature too short", _with_header("x-hub-signature-256", "sha256=" + "0" * 62), 401, "sha256=<64 hex"),
    ("wrong secret", _signed("issues", LABELED_READY, secret="guessed"), 401, "invalid request signature"),
    ("tampered body", _tampered_body, 401, "invalid request signature"),
    ("no delivery id", _without_header("x-github-delivery"), 400, "missing x-github-delivery"),
    ("no event name", _without_header("x-github-event"), 400, "missing x-github-event"),
    ("body not JSON", _signed("issues", b"action=labeled"), 400, "not valid JSON"),
    ("body not an object", _signed("issues", b'"labeled"'), 400, "must be a JSON object"),
    ("unsupported event", _signed("push", {"ref": "refs/heads/main"}), 400, "unsupported event: push"),
    ("no issue number", _signed("issues", labeled_ready_with(issue={})), 400, "lacks issue.number"),
    ("no repository", _signed("issues", labeled_ready_with(repository=None)), 400, "lacks repository.full_name"),
]


@pytest.mark.parametrize(
    ("make_event", "expected_status", "expected_error"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_rejected_deliveries_write_nothing(
    github_request: Build,
    call_github: Call,
    count_runs: Callable[[], int],
    make_event: Callable[[Build], dict[str, Any]],
    expected_status: int,
    expected_error: str,
) -> None:
    status_code, reply = call_github(make_event(github_request))

    assert status_code == expected_status
    assert expected_error in reply["error"]
    assert count_runs() == 0


def test_webhook_secret_is_cached_for_five_minutes_then_reread(
    github_request: Build, call_github: Call, frozen_clock: FrozenClock
) -> None:
    ping = {"zen": "Design for failure."}
    assert call_github(github_request("ping", ping))[0] == 200
    boto3.client("ssm").put_parameter(Name=WEBHOOK_PARAMETER, Value="rotated", Type="SecureString", Overwrite=True)

    frozen_clock.advance(299)
    assert call_github(github_request("ping", ping))[0] == 200
    assert call_github(github_request("ping", ping, secret="rotated"))[0] == 401

    frozen_clock.advance(1)
    assert call_github(github_request("ping", ping, secret="rotated"))[0] == 200
    assert call_github(github_request("ping", ping))[0] == 401
