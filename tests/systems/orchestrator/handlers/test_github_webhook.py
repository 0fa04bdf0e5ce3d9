import copy
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from systems.orchestrator.handlers import run_store
from systems.orchestrator.handlers.run import MAX_TASKS, Task, body_digest, run_id_for
from systems.orchestrator.handlers.run_store import Outcome, RunStore
from tests.systems.orchestrator.handlers.conftest import WorkQueue
from tests.systems.orchestrator.handlers.support import REPOSITORY, START, WEBHOOK_PARAMETER, WORKFLOW, FrozenClock

Build = Callable[..., dict[str, Any]]
Call = Callable[[Mapping[str, Any]], tuple[int, Any]]

LABELED_READY: dict[str, Any] = {
    "action": "labeled",
    "label": {"name": "ready"},
    "issue": {"number": 7, "title": "Add a widget", "state": "open", "updated_at": "2026-11-03T11:59:00Z"},
    "repository": {"full_name": REPOSITORY},
    "sender": {"login": "hubot"},
}
FIRST_RUN = run_id_for(f"github:{body_digest('issues', json.dumps(LABELED_READY).encode())}")


def labeled(number: int = 7, **changes: Any) -> dict[str, Any]:
    """LABELED_READY for issue ``number``, with top-level fields replaced (or removed when given None)."""
    payload = copy.deepcopy(LABELED_READY)
    payload["issue"] |= {"number": number, "title": f"Issue {number}"} if number != 7 else {}
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


def completed(run_id: str, issue: int, conclusion: str = "success", workflow_run_id: int = 555) -> dict[str, Any]:
    return {
        "action": "completed",
        "workflow_run": {
            "id": workflow_run_id,
            "display_title": f"orchestra {run_id} #{issue}",
            "conclusion": conclusion,
            "html_url": "https://evil.example/phish",
            "event": "workflow_dispatch",
            "path": f".github/workflows/{WORKFLOW}",
        },
        "repository": {"full_name": REPOSITORY},
        "sender": {"login": "hubot"},
    }


def test_ping_is_acknowledged_without_a_write(
    github_request: Build, call_github: Call, count_runs: Callable[[], int]
) -> None:
    assert call_github(github_request("ping", {"zen": "Keep it logically awesome."})) == (200, {"ok": True})
    assert count_runs() == 0


def test_a_ready_issue_starts_a_proposed_run_and_queues_a_note(
    github_request: Build, call_github: Call, runs_table: Any, work: WorkQueue
) -> None:
    status_code, reply = call_github(github_request("issues", LABELED_READY))

    assert (status_code, reply) == (201, {"run_id": FIRST_RUN, "duplicate": False})
    run = RunStore.from_environment().get_run(FIRST_RUN)
    assert run is not None and (run.status, run.source, run.requested_by) == ("proposed", "github", "hubot")
    assert run.tasks == {7: Task(7, "Add a widget", f"https://github.com/{REPOSITORY}/issues/7")}
    assert runs_table.get_item(Key={"run_id": f"open#{REPOSITORY}"})["Item"]["open_run_id"] == FIRST_RUN
    assert work.bodies() == [{"type": "joined", "run_id": FIRST_RUN, "issue": 7}]


def test_a_second_ready_issue_joins_the_open_run(
    github_request: Build, call_github: Call, work: WorkQueue, frozen_clock: FrozenClock
) -> None:
    call_github(github_request("issues", LABELED_READY))
    frozen_clock.advance(60)

    assert call_github(github_request("issues", labeled(8), delivery_id="second")) == (
        201,
        {"run_id": FIRST_RUN, "duplicate": False},
    )

    run = RunStore.from_environment().get_run(FIRST_RUN)
    assert run is not None and sorted(run.tasks) == [7, 8]
    assert [(entry.by, entry.action) for entry in run.history] == [("hubot", "proposed"), ("hubot", "added #8")]
    assert [body.get("issue") for body in work.bodies()] == [7, 8]


def test_a_redelivery_is_a_duplicate_and_changes_nothing(
    github_request: Build, call_github: Call, runs_table: Any, work: WorkQueue
) -> None:
    call_github(github_request("issues", LABELED_READY))
    work.bodies()
    items = runs_table.scan()["Items"]

    assert call_github(github_request("issues", LABELED_READY)) == (200, {"duplicate": True})

    assert runs_table.scan()["Items"] == items
    assert work.count() == 0


def test_a_captured_body_replayed_under_new_delivery_ids_starts_nothing(
    github_request: Build, call_github: Call, runs_table: Any, work: WorkQueue
) -> None:
    call_github(github_request("issues", LABELED_READY))
    # The run moves on, so the repository has no open run the replay could merely rejoin.
    assert RunStore.from_environment().approve(FIRST_RUN, REPOSITORY, by="nelly", now=START) is Outcome.DONE
    work.bodies()
    items = runs_table.scan()["Items"]

    for delivery_id in ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"):
        assert call_github(github_request("issues", LABELED_READY, delivery_id=delivery_id)) == (
            200,
            {"duplicate": True},
        )

    assert runs_table.scan()["Items"] == items
    assert work.count() == 0


def test_a_new_labelling_of_an_issue_already_in_the_run_is_ignored(
    github_request: Build, call_github: Call, runs_table: Any, work: WorkQueue
) -> None:
    call_github(github_request("issues", LABELED_READY))
    work.bodies()
    relabelled = labeled(issue=LABELED_READY["issue"] | {"updated_at": "2026-11-03T12:30:00Z"})

    status_code, reply = call_github(github_request("issues", relabelled, delivery_id="relabel"))

    assert (status_code, reply["ignored"]) == (202, True)
    assert work.count() == 0


def test_ready_issues_labelled_at_the_same_moment_all_join_one_run(
    github_request: Build, call_github: Call, work: WorkQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_github(github_request("issues", LABELED_READY))
    read_open_run = RunStore.open_run_id
    reads: list[str] = []

    def read_before_the_first_delivery_wrote(store: RunStore, repository: str) -> str | None:
        # The second delivery read the repository's open run before the first one had written it.
        reads.append(repository)
        return None if len(reads) == 1 else read_open_run(store, repository)

    monkeypatch.setattr(RunStore, "open_run_id", read_before_the_first_delivery_wrote)

    assert call_github(github_request("issues", labeled(8), delivery_id="second")) == (
        201,
        {"run_id": FIRST_RUN, "duplicate": False},
    )

    assert sorted(RunStore.from_environment().get_run(FIRST_RUN).tasks) == [7, 8]  # type: ignore[union-attr]
    assert [body.get("issue") for body in work.bodies()] == [7, 8]


def test_a_write_that_meets_a_concurrent_transaction_is_tried_again(
    github_request: Build, call_github: Call, work: WorkQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_github(github_request("issues", LABELED_READY))
    client = run_store._dynamodb().meta.client
    transact = client.transact_write_items
    conflicts = [
        ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )
    ]

    def conflict_once(**request: Any) -> Any:
        if conflicts:
            raise conflicts.pop()
        return transact(**request)

    monkeypatch.setattr(client, "transact_write_items", conflict_once)

    assert call_github(github_request("issues", labeled(8), delivery_id="second"))[0] == 201

    assert conflicts == []
    assert sorted(RunStore.from_environment().get_run(FIRST_RUN).tasks) == [7, 8]  # type: ignore[union-attr]


def test_a_ready_issue_finding_the_open_run_full_is_ignored(
    github_request: Build, call_github: Call, runs_table: Any, work: WorkQueue
) -> None:
    full = [Task(n, f"Issue {n}", f"https://github.com/{REPOSITORY}/issues/{n}") for n in range(100, 100 + MAX_TASKS)]
    RunStore.from_environment().propose(
        run_id=FIRST_RUN, repository=REPOSITORY, source="github", requested_by="hubot", now=START, tasks=full
    )
    items = runs_table.scan()["Items"]

    status_code, reply = call_github(github_request("issues", LABELED_READY))

    assert (status_code, reply["reason"]) == (202, f"run {FIRST_RUN} already holds {MAX_TASKS} issues")
    assert runs_table.scan()["Items"] == items
    assert work.count() == 0


def test_a_completed_workflow_run_records_its_task_by_the_run_id_it_carries(
    github_request: Build, call_github: Call, work: WorkQueue
) -> None:
    store = RunStore.from_environment()
    call_github(github_request("issues", LABELED_READY))
    store.approve(FIRST_RUN, REPOSITORY, by="nelly", now=START)
    work.bodies()

    status_code, reply = call_github(github_request("workflow_run", completed(FIRST_RUN, 7, "failure")))

    assert (status_code, reply) == (200, {"run_id": FIRST_RUN, "issue": 7, "conclusion": "failure"})
    task = store.get_run(FIRST_RUN).tasks[7]  # type: ignore[union-attr]
    # The link is built from the run's id, never taken from the body.
    assert (task.state, task.result_url) == ("failed", f"https://github.com/{REPOSITORY}/actions/runs/555")
    assert work.bodies() == [{"type": "check", "run_id": FIRST_RUN, "issue": 7}]
    assert call_github(github_request("workflow_run", completed(FIRST_RUN, 7, "failure"), delivery_id="x")) == (
        200,
        {"duplicate": True},
    )
    # The first delivery's check may never have been queued (it failed after recording): queued again.
    assert work.bodies() == [{"type": "check", "run_id": FIRST_RUN, "issue": 7}]
    assert store.get_run(FIRST_RUN).tasks[7].state == "failed"  # type: ignore[union-attr]


def test_a_repository_named_in_another_case_is_the_one_the_access_file_spells(
    github_request: Build, call_github: Call, work: WorkQueue
) -> None:
    store = RunStore.from_environment()
    status_code, reply = call_github(github_request("issues", labeled(repository={"full_name": "Octo-Org/Widgets"})))
    assert status_code == 201
    run_id = reply["run_id"]
    assert call_github(github_request("issues", labeled(8, repository={"full_name": "OCTO-ORG/WIDGETS"})))[0] == 201
    run = store.get_run(run_id)
    assert run is not None and run.repository == REPOSITORY and sorted(run.tasks) == [7, 8]
    assert run.tasks[7].url == f"https://github.com/{REPOSITORY}/issues/7"
    store.approve(run_id, REPOSITORY, by="nelly", now=START)
    work.bodies()

    sent = completed(run_id, 7) | {"repository": {"full_name": "octo-org/WIDGETS"}}
    assert call_github(github_request("workflow_run", sent)) == (
        200,
        {"run_id": run_id, "issue": 7, "conclusion": "success"},
    )
    assert store.get_run(run_id).tasks[7].state == "succeeded"  # type: ignore[union-attr]


def test_a_workflow_run_counts_for_its_run_however_the_access_file_now_spells_its_repository(
    github_request: Build, call_github: Call, work: WorkQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore.from_environment()
    call_github(github_request("issues", LABELED_READY))
    store.approve(FIRST_RUN, REPOSITORY, by="nelly", now=START)
    respelt = os.environ["ORCHESTRATOR_ACCESS"].replace(f'"{REPOSITORY}"', '"Octo-Org/Widgets"')
    monkeypatch.setenv("ORCHESTRATOR_ACCESS", respelt)

    status_code, _ = call_github(github_request("workflow_run", completed(FIRST_RUN, 7)))

    assert status_code == 200
    assert store.get_run(FIRST_RUN).tasks[7].state == "succeeded"  # type: ignore[union-attr]


def _run_of(run_id: str, issue: int, **workflow_run: Any) -> dict[str, Any]:
    sent = completed(run_id, issue)
    sent["workflow_run"] |= workflow_run
    return sent


@pytest.mark.parametrize(
    "impostor",
    [
        # An outsider's pull request titled like a task: its checks' runs carry that title.
        _run_of(FIRST_RUN, 7, event="pull_request", path=".github/workflows/ci.yml"),
        _run_of(FIRST_RUN, 7, event="pull_request"),
        _run_of(FIRST_RUN, 7, path=".github/workflows/other.yml"),
        _run_of(FIRST_RUN, 7, path=None, event=None),
    ],
    ids=["pull request checks", "pull request run of the workflow", "another workflow", "no event or path"],
)
def test_a_run_named_like_a_task_but_not_the_dispatched_workflow_records_nothing(
    github_request: Build, call_github: Call, runs_table: Any, work: WorkQueue, impostor: dict[str, Any]
) -> None:
    call_github(github_request("issues", LABELED_READY))
    RunStore.from_environment().approve(FIRST_RUN, REPOSITORY, by="nelly", now=START)
    work.bodies()
    items = runs_table.scan()["Items"]

    status_code, reply = call_github(github_request("workflow_run", impostor, delivery_id="impostor"))

    assert (status_code, reply["ignored"]) == (202, True)
    assert f"only runs of {WORKFLOW}" in reply["reason"]
    assert runs_table.scan()["Items"] == items
    assert work.count() == 0


@pytest.mark.parametrize(
    ("event_name", "payload", "reason"),
    [
        ("issues", labeled(label={"name": "bug"}), "only issues labeled 'ready'"),
        ("issues", labeled(action="unlabeled"), "only issues labeled 'ready'"),
        ("issues", labeled(issue=LABELED_READY["issue"] | {"state": "closed"}), "only open issues"),
        ("issues", labeled(repository={"full_name": "octo-org/unlisted"}), "not one the orchestrator serves"),
        ("workflow_run", completed(FIRST_RUN, 7) | {"action": "requested"}, "only completed"),
        ("workflow_run", completed(FIRST_RUN, 7) | {"workflow_run": {"display_title": "CI"}}, "not a workflow run"),
        ("workflow_run", completed("run-00000000000000ff", 7), "no run run-00000000000000ff"),
        ("push", {"ref": "refs/heads/main"}, "push events are not acted on"),
    ],
)
def test_events_without_meaning_here_are_ignored_and_write_nothing(
    github_request: Build,
    call_github: Call,
    count_runs: Callable[[], int],
    work: WorkQueue,
    event_name: str,
    payload: dict[str, Any],
    reason: str,
) -> None:
    status_code, reply = call_github(github_request(event_name, payload))
    assert status_code == 202
    assert reply["ignored"] is True and reason in reply["reason"]
    assert (count_runs(), work.count()) == (0, 0)


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


def _signature_given_twice(build: Build) -> dict[str, Any]:
    # API Gateway joins a header sent twice with a comma.
    event = build("issues", LABELED_READY)
    signature = event["headers"]["x-hub-signature-256"]
    event["headers"]["x-hub-signature-256"] = f"{signature},{signature}"
    return event


def _tampered_body(build: Build) -> dict[str, Any]:
    event = build("issues", LABELED_READY)
    event["body"] = event["body"].replace('"number": 7', '"number": 8')
    return event


def _signed(event_name: str, payload: Any, **options: Any) -> Callable[[Build], dict[str, Any]]:
    return lambda build: build(event_name, payload, **options)


def _issue(**fields: Any) -> dict[str, Any]:
    return labeled(issue=LABELED_READY["issue"] | fields)


REJECTED = [
    ("no signature", _without_header("x-hub-signature-256"), 401, "missing x-hub-signature-256"),
    ("sha1 signature", _with_header("x-hub-signature-256", "sha1=" + "0" * 40), 401, "sha256=<64 hex"),
    ("signature not hex", _with_header("x-hub-signature-256", "sha256=" + "z" * 64), 401, "sha256=<64 hex"),
    ("signature too short", _with_header("x-hub-signature-256", "sha256=" + "0" * 62), 401, "sha256=<64 hex"),
    ("wrong secret", _signed("issues", LABELED_READY, secret="guessed"), 401, "invalid request signature"),
    ("tampered body", _tampered_body, 401, "invalid request signature"),
    ("signature given twice", _signature_given_twice, 401, "sha256=<64 hex"),
    ("event name given twice", _with_header("x-github-event", "issues,issues"), 400, "x-github-event"),
    ("no delivery id", _without_header("x-github-delivery"), 400, "x-github-delivery"),
    ("delivery id with a slash", _signed("issues", LABELED_READY, delivery_id="a/b"), 400, "x-github-delivery"),
    ("no event name", _without_header("x-github-event"), 400, "x-github-event"),
    ("body not JSON", _signed("issues", b"action=labeled"), 400, "not valid JSON"),
    ("body not an object", _signed("issues", b'"labeled"'), 400, "must be a JSON object"),
    ("no issue number", _signed("issues", _issue(number=None)), 400, "issue.number must be an issue number"),
    ("issue number zero", _signed("issues", _issue(number=0)), 400, "issue.number must be an issue number"),
    ("issue number as text", _signed("issues", _issue(number="7")), 400, "issue.number must be an issue number"),
    ("issue number as boolean", _signed("issues", _issue(number=True)), 400, "issue.number must be an issue number"),
    ("issue number beyond 32 bits", _signed("issues", _issue(number=2**31)), 400, "issue.number"),
    ("no title", _signed("issues", _issue(title=None)), 400, "issue.title must be a non-empty string"),
    ("no repository", _signed("issues", labeled(repository=None)), 400, "repository.full_name must be owner/name"),
    (
        "repository named ..",
        _signed("issues", labeled(repository={"full_name": "octo-org/.."})),
        400,
        "repository.full_name must be owner/name",
    ),
    (
        "repository with a path",
        _signed("issues", labeled(repository={"full_name": "octo-org/widgets/../../x"})),
        400,
        "repository.full_name must be owner/name",
    ),
    ("sender not a login", _signed("issues", labeled(sender={"login": "a b"})), 400, "sender.login must be"),
    (
        "workflow run id as text",
        _signed(
            "workflow_run",
            completed(FIRST_RUN, 7) | {"workflow_run": completed(FIRST_RUN, 7)["workflow_run"] | {"id": "1"}},
        ),
        400,
        "workflow_run.id",
    ),
]


@pytest.mark.parametrize(
    ("make_event", "expected_status", "expected_error"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_rejected_deliveries_write_and_queue_nothing(
    github_request: Build,
    call_github: Call,
    count_runs: Callable[[], int],
    work: WorkQueue,
    make_event: Callable[[Build], dict[str, Any]],
    expected_status: int,
    expected_error: str,
) -> None:
    status_code, reply = call_github(make_event(github_request))

    assert status_code == expected_status
    assert expected_error in reply["error"]
    assert (count_runs(), work.count()) == (0, 0)


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
