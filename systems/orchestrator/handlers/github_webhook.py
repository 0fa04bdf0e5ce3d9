"""GitHub webhook endpoint: verifies every delivery, records what it means, and enqueues the rest.

- ``issues`` labelled ``ready``: the issue joins its repository's proposed run, or starts one,
  and the worker tells the repository's channel.
- ``workflow_run`` completed: the task the workflow ran for is recorded as succeeded or failed,
  and the worker finishes the run once every task has. The dispatched workflow names its run
  ``orchestra <run id> #<issue>`` (its ``run-name``), which arrives as ``display_title``; only a
  ``workflow_dispatch`` run of the repository's configured workflow file counts.

A delivery is a duplicate when its signed body was processed before, under whatever
``X-GitHub-Delivery`` id (which GitHub does not sign): the body's digest is written in the
same transaction as its effect, so a replayed body changes nothing.
"""

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from . import access, clock, contract, http_api, payload, work_queue
from .http_api import Event, HttpError, Response
from .message import Message
from .run import MAX_TASKS, Task, body_digest, run_id_for
from .run_store import Outcome, RunStore
from .secret_values import read_secret

READY_LABEL = "ready"
# GitHub caps an issue title at 256 characters.
MAX_TITLE = 256
# Each attempt that loses a race finds the run that won it, so two are enough; a third is slack.
_JOIN_ATTEMPTS = 3

_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_DELIVERY_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_EVENT_NAME = re.compile(r"[a-z_]{1,64}")
# GitHub's conclusions (success, failure, timed_out, ...): echoed in the answer and the log.
_CONCLUSION = re.compile(r"[a-z_]{1,32}")
_RUN_NAME = re.compile(r"orchestra (run-[0-9a-f]{16}) #([0-9]{1,10})")

logger = logging.getLogger(__name__)


def _handle(event: Event) -> Response:
    headers = http_api.headers(event)
    body = http_api.raw_body(event)
    _verify(headers, body)
    delivery_id = headers.get("x-github-delivery")
    event_name = headers.get("x-github-event")
    if delivery_id is None or not _DELIVERY_ID.fullmatch(delivery_id):
        raise HttpError(400, "missing or malformed x-github-delivery header")
    if event_name is None or not _EVENT_NAME.fullmatch(event_name):
        raise HttpError(400, "missing or malformed x-github-event header")
    delivery = http_api.json_object(body)
    seen = body_digest(event_name, body)
    if event_name == "ping":
        return http_api.json_response(200, {"ok": True})
    if event_name == "issues":
        return _issues(delivery, seen)
    if event_name == "workflow_run":
        return _workflow_run(delivery, seen)
    return _ignored(f"{event_name} events are not acted on")


handler = http_api.endpoint(_handle)


def _verify(headers: Mapping[str, str], body: bytes) -> None:
    header = headers.get("x-hub-signature-256")
    if header is None:
        raise HttpError(401, "missing x-hub-signature-256 header")
    match = _SIGNATURE.fullmatch(header)
    if match is None:
        raise HttpError(401, "x-hub-signature-256 must be sha256=<64 hex characters>")
    secret = read_secret(os.environ[contract.GITHUB_WEBHOOK_SECRET_ARN]).encode()
    expected = hmac.new(secret, body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, bytes.fromhex(match[1])):
        raise HttpError(401, "invalid request signature")


def _issues(delivery: Mapping[str, Any], seen: str) -> Response:
    if delivery.get("action") != "labeled" or payload.object_at(delivery, "label").get("name") != READY_LABEL:
        return _ignored(f"only issues labeled {READY_LABEL!r} join a run")
    repository = _repository(delivery)
    issue = payload.object_at(delivery, "issue")
    number = payload.issue_number(issue.get("number"), "issue.number")
    title = payload.text(issue.get("title"), "issue.title", MAX_TITLE)
    sender = payload.matching(
        payload.object_at(delivery, "sender").get("login"), "sender.login", payload.LOGIN_PATTERN, "a GitHub login"
    )
    if issue.get("state") != "open":
        return _ignored("only open issues join a run")
    if repository is None:
        return _ignored("the repository is not one the orchestrator serves")
    # The link is built, not taken from the body: what reaches Discord is always this issue's page.
    task = Task(number, " ".join(title.split()), f"https://github.com/{repository.name}/issues/{number}")
    store = RunStore.from_environment()
    now = clock.now()
    for _ in range(_JOIN_ATTEMPTS):
        run_id = store.open_run_id(repository.name)
        if run_id is not None:
            outcome = store.join(run_id, task, by=sender, now=now, seen=seen)
        else:
            run_id = run_id_for(f"github:{seen}")
            outcome = store.propose(
                run_id=run_id,
                repository=repository.name,
                source="github",
                requested_by=sender,
                now=now,
                tasks=[task],
                seen=seen,
            )
        if outcome is Outcome.DUPLICATE:
            return http_api.json_response(200, {"duplicate": True})
        if outcome is Outcome.DONE:
            break
        run = store.get_run(run_id)
        if run is not None and number in run.tasks:
            return _ignored(f"issue #{number} is already in run {run_id}")
        if run is not None and run.status == "proposed" and len(run.tasks) >= MAX_TASKS:
            return _ignored(f"run {run_id} already holds {MAX_TASKS} issues")
        # The repository's open run changed between the read and the write (labels added at
        # once arrive together): read it again.
    else:
        return http_api.json_response(409, {"error": f"issue #{number} could not join a run; redeliver"})
    work_queue.send(Message("joined", run_id, issue=number))
    logger.info("issue %s#%d joined run %s", repository.name, number, run_id, extra={"run_id": run_id})
    return http_api.json_response(201, {"run_id": run_id, "duplicate": False})


def _workflow_run(delivery: Mapping[str, Any], seen: str) -> Response:
    if delivery.get("action") != "completed":
        return _ignored("only completed workflow runs are recorded")
    repository = _repository(delivery)
    workflow_run = payload.object_at(delivery, "workflow_run")
    match = _RUN_NAME.fullmatch(str(workflow_run.get("display_title", "")))
    if match is None:
        return _ignored("not a workflow run the orchestrator dispatched")
    run_id, number = match[1], payload.issue_number(int(match[2]), "workflow_run.display_title issue")
    workflow_run_id = workflow_run.get("id")
    if not isinstance(workflow_run_id, int) or isinstance(workflow_run_id, bool) or not 0 < workflow_run_id < 2**63:
        raise HttpError(400, "workflow_run.id must be a positive integer")
    conclusion = payload.matching(
        workflow_run.get("conclusion"), "workflow_run.conclusion", _CONCLUSION, "a conclusion such as success"
    )
    if repository is None:
        return _ignored("the repository is not one the orchestrator serves")
    # The run name alone proves nothing: a pull request's title names the runs of its checks, so
    # anyone who opens one could name a task. Only the configured workflow, dispatched, reports.
    dispatched = workflow_run.get("event") == "workflow_dispatch"
    if not dispatched or workflow_run.get("path") != f".github/workflows/{repository.workflow}":
        return _ignored(f"only runs of {repository.workflow} dispatched by the orchestrator are recorded")
    store = RunStore.from_environment()
    run = store.get_run(run_id)
    if run is None or run.repository.lower() != repository.name.lower():
        return _ignored(f"no run {run_id} of {repository.name}")
    outcome = store.record_result(
        run_id,
        number,
        succeeded=conclusion == "success",
        result_url=f"https://github.com/{repository.name}/actions/runs/{workflow_run_id}",
        now=clock.now(),
        seen=seen,
    )
    if outcome is not Outcome.DONE and outcome is not Outcome.DUPLICATE:
        return _ignored(f"run {run_id} has no task #{number} in flight")
    # Queued again for a duplicate: the first delivery may have failed between recording and
    # queueing, and the worker's check is idempotent, while a lost one leaves the run unfinished.
    work_queue.send(Message("check", run_id, issue=number))
    if outcome is Outcome.DUPLICATE:
        return http_api.json_response(200, {"duplicate": True})
    logger.info("task #%d of run %s: %s", number, run_id, conclusion, extra={"run_id": run_id})
    return http_api.json_response(200, {"run_id": run_id, "issue": number, "conclusion": conclusion})


def _repository(delivery: Mapping[str, Any]) -> access.Repository | None:
    name = payload.repository(payload.object_at(delivery, "repository").get("full_name"), "repository.full_name")
    return access.from_environment().repository(name)


def _ignored(reason: str) -> Response:
    return http_api.json_response(202, {"ignored": True, "reason": reason})
