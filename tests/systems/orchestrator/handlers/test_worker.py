import json
import logging
import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from systems.orchestrator.handlers import clock, rest, secret_values, worker
from systems.orchestrator.handlers.message import Message
from systems.orchestrator.handlers.run import Task
from systems.orchestrator.handlers.run_store import RunStore
from tests.components.dynamic_provider_support import Reply
from tests.systems.orchestrator.handlers.conftest import RunWorker, WorkQueue
from tests.systems.orchestrator.handlers.fakes import BOT_TOKEN, GITHUB_TOKEN, FakeDiscord, FakeGitHub, FakeIssue
from tests.systems.orchestrator.handlers.support import (
    CHANNEL,
    GUILD,
    INTERACTION_ID,
    REGION,
    REPOSITORY,
    START,
    WORKFLOW,
)

RUN_ID = "run-0123456789abcdef"
TOKEN = "reply-token-1"


def losing_the_first_answer(
    answer: Callable[..., Reply], only: Callable[..., bool] = lambda *request: True
) -> Callable[..., Reply]:
    """The fake API carries the first request `only` picks out, and the connection drops before its
    answer is sent; every other request is answered as usual."""
    lost = [True]

    def answer_and_lose(*request: Any) -> Reply:
        reply = answer(*request)
        if lost and only(*request):
            raise ConnectionAbortedError(lost.pop())
        return reply

    return answer_and_lose


def task(issue: int) -> Task:
    return Task(issue, f"Issue {issue}", f"https://github.com/{REPOSITORY}/issues/{issue}")


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.workflows[REPOSITORY] = {WORKFLOW}
    for number in (7, 8):
        fake_github.add_issue(REPOSITORY, FakeIssue(number, f"Issue {number}"))
    return fake_github


@pytest.fixture
def github_app(worker_environment: None, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's credentials are a GitHub App's id and private key, which the fake API knows."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    github.app = ("1000001", public_pem, 4242)
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="github-app", SecretString=json.dumps({"app_id": "1000001", "private_key": private_pem})
    )["ARN"]
    monkeypatch.setenv("GITHUB_CREDENTIALS_SECRET_ARN", arn)


@pytest.fixture
def discord(fake_discord: FakeDiscord) -> FakeDiscord:
    fake_discord.live_tokens.add(TOKEN)
    return fake_discord


@pytest.fixture
def store(worker_environment: None) -> RunStore:
    return RunStore.from_environment()


def send(work: WorkQueue, *messages: Message) -> None:
    for message in messages:
        work.client.send_message(QueueUrl=work.url, MessageBody=message.to_json())


def approved_run(store: RunStore, *issues: int) -> None:
    store.propose(
        run_id=RUN_ID,
        repository=REPOSITORY,
        source="discord",
        requested_by="nelly",
        now=START,
        tasks=[task(issue) for issue in issues],
    )
    store.approve(RUN_ID, REPOSITORY, by="nelly", now=START)


def finished_run(store: RunStore, results: dict[int, bool]) -> None:
    approved_run(store, *results)
    store.start(RUN_ID, now=START)
    for issue, succeeded in results.items():
        store.record_result(RUN_ID, issue, succeeded=succeeded, result_url=f"https://ci/{issue}", now=START)
    store.finish(RUN_ID, now=START)


def test_plan_lists_the_ready_issues_into_the_run_and_edits_the_reply(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    github.add_issue(REPOSITORY, FakeIssue(9, "A pull request", pull_request=True))
    github.add_issue(REPOSITORY, FakeIssue(10, "Not ready", labels=["bug"]))
    github.add_issue(REPOSITORY, FakeIssue(11, "Ready  but\\nmessy " + "x" * 300))
    store.propose(run_id=RUN_ID, repository=REPOSITORY, source="discord", requested_by="nelly", now=START)
    send(work, Message("plan", RUN_ID, reply=TOKEN, by="nelly", interaction=INTERACTION_ID))

    assert run_worker() == {"batchItemFailures": []}

    run = store.get_run(RUN_ID)
    assert run is not None and sorted(run.tasks) == [7, 8, 11]
    assert len(run.tasks[11].title) == 200
    (listing,) = [r for r in github.requests if r.method == "GET"]
    assert listing.path.startswith(f"/repos/{REPOSITORY}/issues?state=open&labels=ready")
    assert listing.headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
    (reply,) = discord.replies[TOKEN]
    assert reply.splitlines()[:3] == [
        f"Run `{RUN_ID}` for {REPOSITORY} (proposed), 3 issue(s):",
        f"- [#7](https://github.com/{REPOSITORY}/issues/7) Issue 7",
        f"- [#8](https://github.com/{REPOSITORY}/issues/8) Issue 8",
    ]
    assert reply.splitlines()[-1] == f"Approve with `/approve run_id:{RUN_ID}`."
    assert work.count() == 0


def test_plan_never_takes_a_run_beyond_fifty_issues(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    # 49 issues joined from GitHub while the plan was being made; 7, 8 and 9 are listed too.
    joined = [task(issue) for issue in range(100, 149)]
    github.add_issue(REPOSITORY, FakeIssue(9, "Issue 9"))
    for number in (100, 101):
        github.add_issue(REPOSITORY, FakeIssue(number, f"Issue {number}"))
    store.propose(run_id=RUN_ID, repository=REPOSITORY, source="github", requested_by="hubot", now=START, tasks=joined)
    send(work, Message("plan", RUN_ID, reply=TOKEN, by="nelly", interaction=INTERACTION_ID))

    assert run_worker() == {"batchItemFailures": []}

    run = store.get_run(RUN_ID)
    assert run is not None and len(run.tasks) == 50
    assert sorted(run.tasks)[:2] == [7, 100]


def test_approve_dispatches_and_comments_once_per_task_even_when_delivered_twice(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7, 8)
    message = Message("approve", RUN_ID, reply=TOKEN, by="nelly")
    send(work, message)
    assert run_worker() == {"batchItemFailures": []}
    send(work, message)
    assert run_worker() == {"batchItemFailures": []}

    assert github.dispatches == [
        (REPOSITORY, WORKFLOW, {"ref": "main", "inputs": {"issue": "7", "run_id": RUN_ID}}),
        (REPOSITORY, WORKFLOW, {"ref": "main", "inputs": {"issue": "8", "run_id": RUN_ID}}),
    ]
    assert [(number, f"discord.com/channels/{GUILD}/{CHANNEL}" in body) for _, number, body in github.comments] == [
        (7, True),
        (8, True),
    ]
    run = store.get_run(RUN_ID)
    assert run is not None and run.status == "running"
    assert {number: t.state for number, t in run.tasks.items()} == {7: "dispatched", 8: "dispatched"}
    assert run.effects == {"dispatch:7", "dispatch:8", "comment:7", "comment:8"}
    assert discord.replies[TOKEN][-1].splitlines()[0] == f"Run `{RUN_ID}` for {REPOSITORY} is running:"


def test_a_workflow_run_that_reports_before_its_dispatch_is_recorded_keeps_its_result(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7)
    accept_dispatch = github._dispatch

    def dispatch_and_report(*request: Any) -> Reply:
        answer = accept_dispatch(*request)
        # What the webhook records when the workflow completes before the worker goes on.
        store.record_result(RUN_ID, 7, succeeded=True, result_url="https://ci/7", now=START)
        return answer

    github._dispatch = dispatch_and_report  # type: ignore[method-assign]
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    run = store.get_run(RUN_ID)
    assert run is not None and run.tasks[7].state == "succeeded" and run.status == "succeeded"
    assert [channel for channel, _ in discord.posts] == [CHANNEL]


def test_a_workflow_github_refuses_fails_its_task_and_a_run_with_nothing_left_finishes(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    github.workflows[REPOSITORY] = set()
    approved_run(store, 7)
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    run = store.get_run(RUN_ID)
    assert run is not None and run.status == "failed"
    assert run.tasks[7].state == "failed"
    assert run.tasks[7].note == f"dispatch {WORKFLOW}: GitHub answered 404 Not Found"
    assert github.comments == []
    assert [channel for channel, _ in discord.posts] == [CHANNEL]
    assert discord.posts[0][1].startswith(f"Run `{RUN_ID}` for {REPOSITORY} failed: 0 done, 1 failed.")


def test_a_rotated_github_token_fails_nothing_and_the_retry_uses_the_new_one(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7)
    arn = os.environ["GITHUB_CREDENTIALS_SECRET_ARN"]
    # This container read the token a moment ago; then it is rotated and the old one revoked.
    secret_values.read_secret(arn)
    github.token = "github_pat_rotated"
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=arn, SecretString=json.dumps({"token": "github_pat_rotated"})
    )
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert len(run_worker()["batchItemFailures"]) == 1
    run = store.get_run(RUN_ID)
    assert run is not None and run.status == "approved" and run.tasks[7] == task(7)

    assert run_worker() == {"batchItemFailures": []}
    assert len(github.dispatches) == 1
    assert store.get_run(RUN_ID).tasks[7].state == "dispatched"  # type: ignore[union-attr]


def test_an_issue_that_takes_no_comment_does_not_hold_the_run_back(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7, 8)
    # The runs are listed, both dispatches go through, #7's comments and the token's user are
    # listed; then GitHub refuses the comment on the locked #7.
    locked = Reply(403, {"message": "Unable to create comment because issue is locked."})
    github.scripted.extend([None, None, None, None, None, locked])
    message = Message("approve", RUN_ID, reply=TOKEN, by="nelly")
    send(work, message)

    assert run_worker() == {"batchItemFailures": []}
    send(work, message)
    assert run_worker() == {"batchItemFailures": []}

    run = store.get_run(RUN_ID)
    assert run is not None and run.status == "running"
    assert run.effects == {"dispatch:7", "dispatch:8", "comment:7", "comment:8"}
    assert [number for _, number, _ in github.comments] == [8]
    assert len([r for r in github.requests if r.method == "POST" and r.path.endswith("/comments")]) == 2
    assert discord.replies[TOKEN][0].startswith(f"Run `{RUN_ID}` for {REPOSITORY} is running:")


def test_an_issue_that_cannot_be_closed_does_not_hold_the_shipping_back(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    finished_run(store, {7: True, 8: True})
    github.merged[REPOSITORY] = {f"orchestra/{RUN_ID}/7", f"orchestra/{RUN_ID}/8"}
    # Both pull requests are found merged; then #7 turns out deleted.
    github.scripted.extend([None, None, Reply(410, {"message": "This issue was deleted"})])
    send(work, Message("ship", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert store.get_run(RUN_ID).status == "shipped"  # type: ignore[union-attr]
    assert github.issues[REPOSITORY][8].state == "closed"
    ((channel, summary),) = discord.posts
    assert channel == CHANNEL
    assert summary.startswith(f"Run `{RUN_ID}` for {REPOSITORY} shipped: 2 done, 0 failed.")
    assert discord.replies[TOKEN] == [summary]


def test_server_errors_and_secondary_rate_limits_are_retried_as_github_asks(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    sleeps: list[float],
) -> None:
    approved_run(store, 7)
    github.scripted.extend(
        [
            None,  # the workflow's runs, listed first
            Reply(502, {"message": "Bad gateway"}),
            Reply(403, {"message": "You have exceeded a secondary rate limit"}, headers={"Retry-After": "7"}),
            Reply(429, {"message": "Too many requests"}, headers={"Retry-After": "3"}),
        ]
    )
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert len(github.dispatches) == 1
    assert [r.method for r in github.requests[1:5]] == ["POST"] * 4
    assert 7 in sleeps and 3 in sleeps


def test_a_dispatch_whose_answer_is_lost_is_carried_out_once(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7)
    github._dispatch = losing_the_first_answer(github._dispatch)
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert len(run_worker()["batchItemFailures"]) == 1
    assert len(github.dispatches) == 1
    assert store.get_run(RUN_ID).tasks[7].state == "pending"  # type: ignore[union-attr]

    assert run_worker() == {"batchItemFailures": []}

    assert len(github.dispatches) == 1
    run = store.get_run(RUN_ID)
    assert run is not None and run.status == "running" and run.tasks[7].state == "dispatched"
    assert [number for _, number, _ in github.comments] == [7]


def test_a_rate_limit_longer_than_the_worker_can_wait_is_left_to_a_later_attempt(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    sleeps: list[float],
) -> None:
    store.propose(
        run_id=RUN_ID, repository=REPOSITORY, source="github", requested_by="hubot", now=START, tasks=[task(7)]
    )
    discord.scripted.append(Reply(429, {"message": "You are being rate limited."}, headers={"Retry-After": "3600"}))
    send(work, Message("joined", RUN_ID, issue=7))

    assert len(run_worker()["batchItemFailures"]) == 1
    assert (sleeps, len(discord.requests), discord.posts) == ([], 1, [])
    assert "joined:7" not in store.get_run(RUN_ID).effects  # type: ignore[union-attr]

    assert run_worker() == {"batchItemFailures": []}
    assert len(discord.posts) == 1


def test_a_403_without_retry_after_is_a_refusal_not_retried(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    sleeps: list[float],
) -> None:
    approved_run(store, 7)
    github.scripted.extend([None, Reply(403, {"message": "Resource not accessible by integration"})])
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert sleeps == []
    assert store.get_run(RUN_ID).tasks[7].note.endswith("403 Resource not accessible by integration")  # type: ignore[union-attr]


def test_a_github_outage_fails_the_message_and_the_retry_repeats_nothing(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7, 8)
    # The runs are listed and issue 7 is dispatched; then every attempt at issue 8 meets a 503.
    github.scripted.extend([None, None, *[Reply(503, {"message": "Unavailable"})] * 5])
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    answer = run_worker()

    assert len(answer["batchItemFailures"]) == 1
    run = store.get_run(RUN_ID)
    assert run is not None and run.status == "approved" and run.effects == {"dispatch:7"}
    assert work.count() == 1

    assert run_worker() == {"batchItemFailures": []}
    assert [body["inputs"]["issue"] for _, _, body in github.dispatches] == ["7", "8"]
    assert store.get_run(RUN_ID).status == "running"  # type: ignore[union-attr]


def test_failures_are_reported_per_message(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7)
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"), Message("check", "run-00000000000000ff"))
    work.client.send_message(QueueUrl=work.url, MessageBody="not json")
    records = work.receive()

    answer = worker.handler({"Records": records}, None)

    failed = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
    bodies = {record["messageId"]: record["body"] for record in records}
    assert sorted(bodies[message_id] for message_id in failed) == sorted(
        ["not json", Message("check", "run-00000000000000ff").to_json()]
    )
    assert len(github.dispatches) == 1


MALFORMED = [
    ("not JSON", "approve"),
    ("a list", json.dumps(["approve", RUN_ID])),
    ("an unknown type", json.dumps({"type": "deploy", "run_id": RUN_ID})),
    ("an unknown field", json.dumps({"type": "approve", "run_id": RUN_ID, "force": True})),
    ("no run id", json.dumps({"type": "approve"})),
    ("another item's key as run id", json.dumps({"type": "approve", "run_id": f"open#{REPOSITORY}"})),
    ("a reply that is a path", json.dumps({"type": "plan", "run_id": RUN_ID, "reply": f"../../channels/{CHANNEL}/x"})),
    ("a reply that is a number", json.dumps({"type": "plan", "run_id": RUN_ID, "reply": 7})),
    ("an issue that is a boolean", json.dumps({"type": "joined", "run_id": RUN_ID, "issue": True})),
    ("an issue that is text", json.dumps({"type": "joined", "run_id": RUN_ID, "issue": "7"})),
    ("a requester that is an object", json.dumps({"type": "ship", "run_id": RUN_ID, "by": {"login": "x"}})),
    ("a plan for no interaction", json.dumps({"type": "plan", "run_id": RUN_ID, "reply": TOKEN, "by": "nelly"})),
]


@pytest.mark.parametrize("body", [case[1] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_a_malformed_message_is_failed_untouched(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    runs_table: Any,
    body: str,
) -> None:
    finished_run(store, {1: True})
    github.merged[REPOSITORY] = {f"orchestra/{RUN_ID}/1"}
    items = runs_table.scan()["Items"]
    work.client.send_message(QueueUrl=work.url, MessageBody=body)

    assert len(run_worker()["batchItemFailures"]) == 1

    assert runs_table.scan()["Items"] == items
    assert (github.requests, discord.requests) == ([], [])
    assert work.count() == 1


def test_an_expired_reply_token_does_not_fail_the_message(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7)
    send(work, Message("approve", RUN_ID, reply="expired-token", by="nelly"))
    assert run_worker() == {"batchItemFailures": []}
    assert discord.replies == {}
    assert len(github.dispatches) == 1


def test_a_joined_issue_is_announced_once(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    store.propose(
        run_id=RUN_ID, repository=REPOSITORY, source="github", requested_by="hubot", now=START, tasks=[task(7)]
    )
    send(work, Message("joined", RUN_ID, issue=7), Message("joined", RUN_ID, issue=7))
    assert run_worker() == {"batchItemFailures": []}
    assert discord.posts == [
        (CHANNEL, f"Issue [#7](https://github.com/{REPOSITORY}/issues/7) Issue 7 joined run `{RUN_ID}` (proposed).")
    ]
    request = next(r for r in discord.requests if r.method == "POST")
    assert request.headers["authorization"] == f"Bot {BOT_TOKEN}"


def test_a_finished_run_is_reported_once(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7, 8)
    store.start(RUN_ID, now=START)
    store.record_result(RUN_ID, 7, succeeded=True, result_url="https://ci/7", now=START)
    send(work, Message("check", RUN_ID, issue=7))
    assert run_worker() == {"batchItemFailures": []}
    assert discord.posts == [] and store.get_run(RUN_ID).status == "running"  # type: ignore[union-attr]

    store.record_result(RUN_ID, 8, succeeded=True, result_url="https://ci/8", now=START)
    send(work, Message("check", RUN_ID, issue=8), Message("check", RUN_ID, issue=8))
    assert run_worker() == {"batchItemFailures": []}

    assert store.get_run(RUN_ID).status == "succeeded"  # type: ignore[union-attr]
    ((channel, summary),) = discord.posts
    assert channel == CHANNEL
    assert summary.splitlines() == [
        f"Run `{RUN_ID}` for {REPOSITORY} succeeded: 2 done, 0 failed.",
        f"- [#7](https://github.com/{REPOSITORY}/issues/7) Issue 7: succeeded ([run](https://ci/7))",
        f"- [#8](https://github.com/{REPOSITORY}/issues/8) Issue 8: succeeded ([run](https://ci/8))",
    ]


def test_ship_waits_for_every_pull_request_to_be_merged(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    finished_run(store, {7: True, 8: True})
    github.merged[REPOSITORY] = {f"orchestra/{RUN_ID}/7"}
    send(work, Message("ship", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert store.get_run(RUN_ID).status == "succeeded"  # type: ignore[union-attr]
    assert discord.replies[TOKEN] == [
        f"Run `{RUN_ID}` is not shipped: no merged pull request yet for #8 (branch `orchestra/{RUN_ID}/8`)."
    ]
    assert github.issues[REPOSITORY][7].state == "open"
    pulls = [r.path for r in github.requests if "/pulls" in r.path]
    assert pulls[0] == f"/repos/{REPOSITORY}/pulls?state=closed&head=octo-org%3Aorchestra%2F{RUN_ID}%2F7&per_page=10"


def test_ship_closes_the_shipped_issues_and_posts_the_summary_once(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    finished_run(store, {7: True, 8: False})
    github.merged[REPOSITORY] = {f"orchestra/{RUN_ID}/7"}
    message = Message("ship", RUN_ID, reply=TOKEN, by="nelly")
    send(work, message, message)

    assert run_worker() == {"batchItemFailures": []}

    run = store.get_run(RUN_ID)
    assert run is not None and run.status == "shipped"
    assert (run.history[-1].by, run.history[-1].action) == ("nelly", "shipped")
    assert (github.issues[REPOSITORY][7].state, github.issues[REPOSITORY][8].state) == ("closed", "open")
    ((channel, summary),) = discord.posts
    assert channel == CHANNEL
    assert summary.startswith(f"Run `{RUN_ID}` for {REPOSITORY} shipped: 1 done, 1 failed.")
    assert discord.replies[TOKEN] == [summary, summary]


def test_github_app_tokens_are_minted_for_the_one_repository(
    github_app: None, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    store = RunStore.from_environment()
    approved_run(store, 7)
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert github.minted_for == [["widgets"]]
    assert len(github.dispatches) == 1


def test_nothing_secret_reaches_the_logs(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What Lambda records: INFO and above (botocore writes response bodies only at DEBUG).
    caplog.set_level(logging.INFO)
    approved_run(store, 7)
    github.scripted.extend([Reply(503, {"message": "Unavailable"})] * 5)
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))
    run_worker()
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))
    discord.scripted.extend([Reply(503, {"message": "Unavailable"})] * 5)
    run_worker()

    logged = caplog.text
    assert "Unavailable" in logged or "503" in logged
    for secret in (GITHUB_TOKEN, BOT_TOKEN, TOKEN):
        assert secret not in logged


def test_a_refusal_that_echoes_the_token_never_passes_it_on(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    approved_run(store, 7)
    echoed = Reply(422, {"message": f"Invalid request made with Bearer {GITHUB_TOKEN}"})
    github.scripted.extend([None, echoed])
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    note = store.get_run(RUN_ID).tasks[7].note  # type: ignore[union-attr]
    assert note == f"dispatch {WORKFLOW}: GitHub answered 422 Invalid request made with Bearer [token]"
    shown = [content for _, content in discord.posts] + discord.replies[TOKEN]
    assert shown and all(GITHUB_TOKEN not in content for content in shown)
    assert GITHUB_TOKEN not in caplog.text


def test_a_refusal_no_retry_can_change_is_told_to_whoever_asked(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    store.propose(run_id=RUN_ID, repository=REPOSITORY, source="discord", requested_by="nelly", now=START)
    github.scripted.append(Reply(404, {"message": "Not Found"}))
    send(work, Message("plan", RUN_ID, reply=TOKEN, by="nelly", interaction=INTERACTION_ID))

    assert run_worker() == {"batchItemFailures": []}

    assert discord.replies[TOKEN] == [f"Run `{RUN_ID}`: list ready issues: GitHub answered 404 Not Found."]
    assert store.get_run(RUN_ID).tasks == {}  # type: ignore[union-attr]
    assert work.count() == 0


def _issues_page(**first: Any) -> list[dict[str, Any]]:
    return [{"number": 7, "title": "Issue 7", "html_url": "https://github.com/o/r/issues/7"} | first]


UNREADABLE = [
    ("an HTML page", Reply(200, b"<html><body>Service temporarily unavailable</body></html>")),
    ("JSON cut short", Reply(200, b'[{"number": 7, "title": "Iss')),
    ("an object, not a list", Reply(200, {"message": "Moved"})),
    ("a list of strings", Reply(200, ["7", "8"])),
    ("a number as text", Reply(200, _issues_page(number="7"))),
    ("a number beyond 32 bits", Reply(200, _issues_page(number=10**40))),
    ("a number that is a boolean", Reply(200, _issues_page(number=True))),
    ("no title", Reply(200, _issues_page(title=None))),
    ("no link", Reply(200, _issues_page(html_url=["x"]))),
    ("more than the worker reads", Reply(200, _issues_page(title="x" * 2000))),
]


@pytest.mark.parametrize("answer", [case[1] for case in UNREADABLE], ids=[case[0] for case in UNREADABLE])
def test_an_answer_github_never_documents_is_retried_later_and_changes_nothing(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    answer: Reply,
) -> None:
    monkeypatch.setattr(rest, "MAX_ANSWER_BYTES", 1000)
    store.propose(run_id=RUN_ID, repository=REPOSITORY, source="discord", requested_by="nelly", now=START)
    github.scripted.append(answer)
    send(work, Message("plan", RUN_ID, reply=TOKEN, by="nelly", interaction=INTERACTION_ID))

    assert len(run_worker()["batchItemFailures"]) == 1

    assert store.get_run(RUN_ID).tasks == {}  # type: ignore[union-attr]
    assert discord.replies == {}
    assert work.count() == 1
    # A known failure, told in one line: no traceback, as a bug would leave.
    assert [record.exc_info for record in caplog.records if record.name == worker.__name__] == [None]
    assert "failed: list ready issues: " in caplog.text


def test_shipping_as_a_github_app_mints_one_token_for_the_checks_and_the_closing(
    github_app: None, store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    finished_run(store, {7: True, 8: True})
    github.merged[REPOSITORY] = {f"orchestra/{RUN_ID}/7", f"orchestra/{RUN_ID}/8"}
    send(work, Message("ship", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert store.get_run(RUN_ID).status == "shipped"  # type: ignore[union-attr]
    assert github.issues[REPOSITORY][7].state == github.issues[REPOSITORY][8].state == "closed"
    assert github.minted_for == [["widgets"]]


def test_an_app_installation_answer_without_its_id_is_retried_later(
    github_app: None,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    github.scripted.append(Reply(200, b"<html>Sign in</html>"))
    store = RunStore.from_environment()
    approved_run(store, 7)
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert len(run_worker()["batchItemFailures"]) == 1

    assert github.dispatches == []
    assert store.get_run(RUN_ID).tasks[7].state == "pending"  # type: ignore[union-attr]
    assert "find the App installation: GitHub's answer has no id" in caplog.text


def test_an_effect_another_worker_is_carrying_out_is_left_to_it(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7)
    # The same message, delivered twice, is being handled by another invocation right now.
    assert store.claim(RUN_ID, "dispatch:7", now=clock.now(), lease_seconds=60) is True
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert len(run_worker()["batchItemFailures"]) == 1

    assert github.dispatches == []
    assert store.get_run(RUN_ID).status == "approved"  # type: ignore[union-attr]
    assert work.count() == 1


def test_a_comment_whose_answer_is_lost_is_written_once(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7)
    github._comment = losing_the_first_answer(github._comment)
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert len(run_worker()["batchItemFailures"]) == 1
    assert "comment:7" not in store.get_run(RUN_ID).effects  # type: ignore[union-attr]

    assert run_worker() == {"batchItemFailures": []}

    ((_, number, body),) = github.comments
    assert number == 7 and body.endswith(f"<!-- orchestra {RUN_ID} comment:7 -->")
    run = store.get_run(RUN_ID)
    assert run is not None and run.status == "running" and "comment:7" in run.effects
    listing = next(r for r in github.requests if r.method == "GET" and "/issues/7/comments" in r.path)
    assert listing.path == f"/repos/{REPOSITORY}/issues/7/comments?since=2026-11-03T12%3A00%3A00Z&per_page=100"


def test_a_marker_of_another_run_or_issue_does_not_stand_for_the_link_back(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7)
    # Another run's marker, and this run's for another issue, mark nothing done here.
    github.comments += [
        (REPOSITORY, 7, "<!-- orchestra run-00000000000000aa comment:7 -->"),
        (REPOSITORY, 7, f"<!-- orchestra {RUN_ID} comment:8 -->"),
    ]
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert github.comments[-1][2].endswith(f"<!-- orchestra {RUN_ID} comment:7 -->")
    assert len(github.comments) == 3


@pytest.fixture(params=["token", "app"])
def credentials(request: pytest.FixtureRequest) -> str:
    """The worker's GitHub credentials: a token, or a GitHub App."""
    if request.param == "app":
        request.getfixturevalue("github_app")
    return request.param


def test_a_marker_someone_else_wrote_does_not_stand_for_the_link_back(
    credentials: str, store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    approved_run(store, 7)
    marker = f"<!-- orchestra {RUN_ID} comment:7 -->"
    # Anyone who can comment can copy the marker, and take a login that looks like the worker's.
    for author in ("mallory", f"{github.holder()}-2", "orchestra-test-app", "orchestra-test-app-bot"):
        github.comments.append((REPOSITORY, 7, f"Done already.\n\n{marker}"))
        github.comment_authors[len(github.comments) - 1] = author
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert len(github.comments) == 5
    assert github.comments[-1][2].startswith("Orchestra run") and github.comments[-1][2].endswith(marker)
    assert "comment:7" in store.get_run(RUN_ID).effects  # type: ignore[union-attr]


def test_the_workers_own_marker_stands_for_the_link_back(
    credentials: str, store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    # The worker's comment was written, but its answer was lost before the effect was recorded.
    approved_run(store, 7)
    github.comments.append(
        (REPOSITORY, 7, f"Orchestra run `{RUN_ID}` dispatched.\n\n<!-- orchestra {RUN_ID} comment:7 -->")
    )
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert len(github.comments) == 1
    assert "comment:7" in store.get_run(RUN_ID).effects  # type: ignore[union-attr]


def test_a_channel_post_whose_answer_is_lost_is_made_once(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    store.propose(
        run_id=RUN_ID, repository=REPOSITORY, source="github", requested_by="hubot", now=START, tasks=[task(7)]
    )
    discord.answer = losing_the_first_answer(discord.answer, only=lambda request: request.method == "POST")
    send(work, Message("joined", RUN_ID, issue=7))

    # With its nonce the post is safe to send again at once, and Discord answers with the message it made.
    assert run_worker() == {"batchItemFailures": []}

    assert len(discord.posts) == 1
    nonces = [request.json()["nonce"] for request in discord.requests]
    assert len(nonces) == 2 and nonces[0] == nonces[1]
    assert all(request.json()["enforce_nonce"] is True for request in discord.requests)
    assert "joined:7" in store.get_run(RUN_ID).effects  # type: ignore[union-attr]


def test_a_channel_post_retried_by_a_later_attempt_carries_the_same_nonce(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    store.propose(
        run_id=RUN_ID, repository=REPOSITORY, source="github", requested_by="hubot", now=START, tasks=[task(7)]
    )
    # Discord creates the message, then every answer is lost until the call gives up.
    discord.scripted.extend([Reply(503, {"message": "lost"}, after_handling=True)] * 5)
    send(work, Message("joined", RUN_ID, issue=7))

    assert len(run_worker()["batchItemFailures"]) == 1
    assert run_worker() == {"batchItemFailures": []}

    assert len(discord.posts) == 1
    assert len({request.json()["nonce"] for request in discord.requests}) == 1
    assert "joined:7" in store.get_run(RUN_ID).effects  # type: ignore[union-attr]


def test_each_channel_message_of_a_run_has_its_own_nonce(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    store.propose(
        run_id=RUN_ID, repository=REPOSITORY, source="github", requested_by="hubot", now=START, tasks=[task(7)]
    )
    store.join(RUN_ID, task(8), by="hubot", now=START)
    send(work, Message("joined", RUN_ID, issue=7), Message("joined", RUN_ID, issue=8))

    assert run_worker() == {"batchItemFailures": []}

    assert len(discord.posts) == 2
    assert len({request.json()["nonce"] for request in discord.requests}) == 2


@pytest.mark.parametrize(
    "refusal",
    [
        Reply(404, {"message": "Unknown Channel", "code": 10003}),
        Reply(403, {"message": "Missing Access", "code": 50001}),
    ],
    ids=["deleted", "inaccessible"],
)
def test_a_channel_the_bot_cannot_post_to_is_passed_over_and_the_requester_still_answered(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    caplog: pytest.LogCaptureFixture,
    refusal: Reply,
) -> None:
    finished_run(store, {7: True})
    github.merged[REPOSITORY] = {f"orchestra/{RUN_ID}/7"}
    discord.scripted.append(refusal)
    message = Message("ship", RUN_ID, reply=TOKEN, by="nelly")
    send(work, message)

    assert run_worker() == {"batchItemFailures": []}

    run = store.get_run(RUN_ID)
    assert run is not None and run.status == "shipped" and "shipped" in run.effects
    assert discord.posts == []
    assert discord.replies[TOKEN][0].startswith(f"Run `{RUN_ID}` for {REPOSITORY} shipped: 1 done, 0 failed.")
    assert (run.history[-1].by, run.history[-1].action) == (
        "orchestra",
        f"not told in channel {CHANNEL} (shipped): post to the channel: Discord answered {refusal.status}",
    )
    assert f"not told in channel {CHANNEL}" in caplog.text

    send(work, message)
    assert run_worker() == {"batchItemFailures": []}
    assert len([r for r in discord.requests if r.method == "POST"]) == 1
    assert len(store.get_run(RUN_ID).history) == len(run.history)  # type: ignore[union-attr]


def test_a_channel_post_refused_for_another_reason_is_retried(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    store.propose(
        run_id=RUN_ID, repository=REPOSITORY, source="github", requested_by="hubot", now=START, tasks=[task(7)]
    )
    discord.scripted.append(Reply(401, {"message": "401: Unauthorized", "code": 0}))
    send(work, Message("joined", RUN_ID, issue=7))

    assert len(run_worker()["batchItemFailures"]) == 1
    assert run_worker() == {"batchItemFailures": []}
    assert len(discord.posts) == 1


def test_a_message_for_a_repository_removed_from_the_access_file_is_dropped_untouched(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    runs_table: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    finished_run(store, {7: True})
    github.merged[REPOSITORY] = {f"orchestra/{RUN_ID}/7"}
    items = runs_table.scan()["Items"]
    without = json.loads(os.environ["ORCHESTRATOR_ACCESS"])
    without["guilds"][0]["repositories"] = [r for r in without["guilds"][0]["repositories"] if r["name"] != REPOSITORY]
    without["guilds"][0]["default_repository"] = None
    monkeypatch.setenv("ORCHESTRATOR_ACCESS", json.dumps(without))
    send(
        work,
        Message("ship", RUN_ID, reply=TOKEN, by="nelly"),
        Message("check", RUN_ID, issue=7),
        Message("joined", RUN_ID, issue=7),
    )

    assert run_worker() == {"batchItemFailures": []}

    assert runs_table.scan()["Items"] == items
    assert (github.requests, discord.requests) == ([], [])
    assert work.count() == 0
    assert caplog.text.count(f"{REPOSITORY} is no longer in the access file") == 3


def test_a_run_is_found_in_the_access_file_however_either_spells_its_repository(
    store: RunStore,
    github: FakeGitHub,
    discord: FakeDiscord,
    work: WorkQueue,
    run_worker: RunWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The run was recorded when the access file spelt the repository in lower case; now it does not.
    respelt = os.environ["ORCHESTRATOR_ACCESS"].replace(f'"{REPOSITORY}"', '"Octo-Org/Widgets"')
    monkeypatch.setenv("ORCHESTRATOR_ACCESS", respelt)
    github.workflows["Octo-Org/Widgets"] = {WORKFLOW}
    approved_run(store, 7)
    send(work, Message("approve", RUN_ID, reply=TOKEN, by="nelly"))

    assert run_worker() == {"batchItemFailures": []}

    assert [repository for repository, _, _ in github.dispatches] == ["Octo-Org/Widgets"]
    assert [(repository, number) for repository, number, _ in github.comments] == [("Octo-Org/Widgets", 7)]
    assert store.get_run(RUN_ID).status == "running"  # type: ignore[union-attr]


def test_a_plan_retried_or_replayed_is_planned_and_answered_once(
    store: RunStore, github: FakeGitHub, discord: FakeDiscord, work: WorkQueue, run_worker: RunWorker
) -> None:
    store.propose(run_id=RUN_ID, repository=REPOSITORY, source="discord", requested_by="nelly", now=START)
    plan = Message("plan", RUN_ID, reply=TOKEN, by="nelly", interaction="1234567890123456789")
    send(work, plan)
    assert run_worker() == {"batchItemFailures": []}
    send(work, plan, plan)
    assert run_worker() == {"batchItemFailures": []}

    run = store.get_run(RUN_ID)
    assert run is not None
    assert [entry.action for entry in run.history] == ["proposed", "planned 2 issue(s)"]
    assert len(discord.replies[TOKEN]) == 1
    assert len([r for r in github.requests if r.method == "GET"]) == 1

    # A new /plan of the same open run is a new interaction: it refreshes the plan.
    github.add_issue(REPOSITORY, FakeIssue(9, "Issue 9"))
    send(work, Message("plan", RUN_ID, reply=TOKEN, by="nelly", interaction="1234567890123456790"))
    assert run_worker() == {"batchItemFailures": []}
    assert sorted(store.get_run(RUN_ID).tasks) == [7, 8, 9]  # type: ignore[union-attr]
    assert len(discord.replies[TOKEN]) == 2
