"""The runs table: runs, their tasks and history, moved from state to state by conditional writes.

Every transition of a run (``run.py``) is one conditional write naming the state it leaves, so
two requests racing for the same transition cannot both win, and each appends who did what,
and when, to the run's history.

Schema (``contract.py``, built by the infrastructure): hash key ``run_id``; TTL on
``expires_at``; GSI ``recent_runs`` keyed by ``run_month`` (``YYYY-MM``) and ``created_at``
(ISO-8601 UTC). Besides runs the table keys two kinds of small items under prefixed ids,
absent from the index because they have no ``run_month``:
- ``open#<owner/name>`` (in lower case) holds ``open_run_id``, the repository's one proposed run,
  set and cleared in the same transaction as the run's own transition;
- ``seen#<sha256>`` marks a webhook body as processed, written in the same transaction as its
  effect, so a replayed body changes nothing whatever delivery id it arrives under.

Effects the worker has on other systems (a dispatch, a comment, a message) are recorded in the
run's ``effects`` map under an idempotency key once done; ``claims`` holds a lease per key while
one worker carries the effect out, so a message delivered twice never repeats it.
"""

import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

from . import contract
from .contract import CREATED_AT, EXPIRES_AT, RECENT_RUNS_INDEX, RUN_ID, RUN_MONTH
from .run import (
    FINISHED,
    MAX_TASKS,
    SOURCES,
    STATUSES,
    TASK_STATES,
    HistoryEntry,
    Run,
    Source,
    Status,
    Task,
    TaskState,
)

# Writes of one transaction that lost a race with another request for the same items.
TRANSACTION_ATTEMPTS = 3

_Word = TypeVar("_Word", bound=str)


class Outcome(Enum):
    DONE = "done"
    DUPLICATE = "duplicate"
    """A webhook body already processed, or a request already carried out."""
    CONFLICT = "conflict"
    """The run is not in the state the change needs (or another request changed it first)."""
    MISSING = "missing"


class EffectBusy(Exception):
    """Another worker holds the lease on this effect; the message is to be retried later."""


class RunStore:
    def __init__(self, table: Any, ttl_days: int) -> None:
        self._table = table
        # The resource's client: it converts values to and from DynamoDB's typed form.
        self._client = table.meta.client
        self._ttl = timedelta(days=ttl_days)

    @classmethod
    def from_environment(cls) -> "RunStore":
        """The store named by ``RUNS_TABLE_NAME``, keeping runs for ``RUN_TTL_DAYS``."""
        ttl_setting = os.environ[contract.RUN_TTL_DAYS]
        if not ttl_setting.isascii() or not ttl_setting.isdecimal() or int(ttl_setting) < 1:
            raise ValueError(f"{contract.RUN_TTL_DAYS} must be a whole number of days >= 1, got {ttl_setting!r}")
        return cls(runs_table(), int(ttl_setting))

    # Reading

    def get_run(self, run_id: str) -> Run | None:
        item = self._table.get_item(Key={RUN_ID: run_id}, ConsistentRead=True).get("Item")
        return None if item is None or RUN_MONTH not in item else _run(item)

    def open_run_id(self, repository: str) -> str | None:
        item = self._table.get_item(Key={RUN_ID: _open_key(repository)}, ConsistentRead=True).get("Item")
        return None if item is None else item.get("open_run_id")

    def recent_runs(self, now: datetime, repositories: Iterable[str], limit: int = 5) -> list[Run]:
        """The newest runs of ``repositories`` (in any case), newest first, from this month and the last."""
        wanted = {repository.lower() for repository in repositories}
        runs: list[Run] = []
        this_month = now.astimezone(UTC).replace(day=1)
        for month in (this_month, this_month - timedelta(days=1)):
            pages = self._client.get_paginator("query").paginate(
                TableName=self._table.name,
                IndexName=RECENT_RUNS_INDEX,
                KeyConditionExpression=f"{RUN_MONTH} = :month",
                ExpressionAttributeValues={":month": _month(month)},
                ScanIndexForward=False,
            )
            for page in pages:
                for item in page["Items"]:
                    if item["repository"].lower() in wanted:
                        runs.append(_run(item))
                        if len(runs) == limit:
                            return runs
        return runs

    # Proposing

    def propose(
        self,
        *,
        run_id: str,
        repository: str,
        source: Source,
        requested_by: str,
        now: datetime,
        tasks: Sequence[Task] = (),
        seen: str | None = None,
    ) -> Outcome:
        """Record a new proposed run as the repository's open one.

        CONFLICT: the repository already has an open run (join it instead). DUPLICATE: this
        run, or the webhook body ``seen``, was recorded before. Nothing is written unless DONE.
        """
        run = {
            RUN_ID: run_id,
            RUN_MONTH: _month(now),
            CREATED_AT: _timestamp(now),
            EXPIRES_AT: self._expiry(now),
            "status": "proposed",
            "source": source,
            "repository": repository,
            "requested_by": requested_by,
            "tasks": {str(task.issue): _task_item(task) for task in tasks},
            "history": [_history(now, requested_by, "proposed")],
            "effects": {},
            "claims": {},
        }
        writes = [
            {"Put": {"Item": run, "ConditionExpression": f"attribute_not_exists({RUN_ID})"}},
            {
                "Update": {
                    "Key": {RUN_ID: _open_key(repository)},
                    "UpdateExpression": "SET open_run_id = :run",
                    "ConditionExpression": "attribute_not_exists(open_run_id)",
                    "ExpressionAttributeValues": {":run": run_id},
                }
            },
        ]
        return self._transact(writes, seen, now, conflict_at=1)

    def join(self, run_id: str, task: Task, *, by: str, now: datetime, seen: str | None = None) -> Outcome:
        """Add ``task`` to a proposed run. CONFLICT: the run is no longer proposed, is full or has the task."""
        update = {
            "Update": {
                "Key": {RUN_ID: run_id},
                "UpdateExpression": "SET tasks.#issue = :task, history = list_append(history, :entry)",
                "ConditionExpression": (
                    "#status = :proposed AND attribute_not_exists(tasks.#issue) AND size(tasks) < :max"
                ),
                "ExpressionAttributeNames": {"#issue": str(task.issue), "#status": "status"},
                "ExpressionAttributeValues": {
                    ":task": _task_item(task),
                    ":entry": [_history(now, by, f"added #{task.issue}")],
                    ":proposed": "proposed",
                    ":max": MAX_TASKS,
                },
            }
        }
        return self._transact([update], seen, now, conflict_at=0)

    def set_tasks(self, run_id: str, tasks: Sequence[Task], *, now: datetime) -> Outcome:
        """Make a proposed run's tasks the repository's open ``ready`` issues, as the worker listed them."""
        names = {f"#t{index}": str(task.issue) for index, task in enumerate(tasks)}
        values: dict[str, Any] = {f":t{index}": _task_item(task) for index, task in enumerate(tasks)}
        assignments = [f"tasks.#t{index} = :t{index}" for index in range(len(tasks))]
        values |= {":proposed": "proposed", ":entry": [_history(now, "orchestra", f"planned {len(tasks)} issue(s)")]}
        return self._update(
            run_id,
            "SET " + ", ".join([*assignments, "history = list_append(history, :entry)"]),
            "#status = :proposed",
            names | {"#status": "status"},
            values,
        )

    def note(self, run_id: str, action: str, *, now: datetime) -> Outcome:
        """Add to a run's history something the worker passed over, whatever the run's status."""
        return self._update(
            run_id,
            "SET #history = list_append(#history, :entry)",
            "attribute_exists(#history)",
            {"#history": "history"},
            {":entry": [_history(now, "orchestra", action)]},
        )

    # Transitions

    def approve(self, run_id: str, repository: str, *, by: str, now: datetime) -> Outcome:
        """proposed → approved, closing the repository's open run in the same write."""
        return self._close_open_run(run_id, repository, "approved", by=by, now=now, require_tasks=True)

    def cancel(self, run_id: str, repository: str, *, by: str, now: datetime) -> Outcome:
        """proposed → cancelled, closing the repository's open run in the same write."""
        return self._close_open_run(run_id, repository, "cancelled", by=by, now=now, require_tasks=False)

    def start(self, run_id: str, *, now: datetime) -> Outcome:
        """approved → running, once every task has been dispatched."""
        return self._transition(run_id, ("approved",), "running", by="orchestra", now=now)

    def finish(self, run_id: str, *, now: datetime) -> Outcome:
        """approved or running → succeeded (every task succeeded) or failed, once every task has finished."""
        run = self.get_run(run_id)
        if run is None:
            return Outcome.MISSING
        if not run.finished_tasks():
            return Outcome.CONFLICT
        return self._transition(run_id, ("approved", "running"), run.outcome(), by="orchestra", now=now)

    def ship(self, run_id: str, *, by: str, now: datetime) -> Outcome:
        """succeeded or failed → shipped."""
        return self._transition(run_id, FINISHED, "shipped", by=by, now=now)

    # Tasks

    def record_result(
        self, run_id: str, issue: int, *, succeeded: bool, result_url: str, now: datetime, seen: str | None = None
    ) -> Outcome:
        """A task's workflow run completed. CONFLICT: no such task, or it is not in flight."""
        state: TaskState = "succeeded" if succeeded else "failed"
        update = {
            "Update": {
                "Key": {RUN_ID: run_id},
                "UpdateExpression": (
                    "SET tasks.#issue.#state = :state, tasks.#issue.result_url = :url, "
                    "history = list_append(history, :entry)"
                ),
                "ConditionExpression": (
                    "#status IN (:approved, :running) AND tasks.#issue.#state IN (:pending, :dispatched)"
                ),
                "ExpressionAttributeNames": {"#issue": str(issue), "#state": "state", "#status": "status"},
                "ExpressionAttributeValues": {
                    ":state": state,
                    ":url": result_url,
                    ":entry": [_history(now, "github", f"#{issue} {state}")],
                    ":approved": "approved",
                    ":running": "running",
                    ":pending": "pending",
                    ":dispatched": "dispatched",
                },
            }
        }
        return self._transact([update], seen, now, conflict_at=0)

    # Effects

    def claim(self, run_id: str, key: str, *, now: datetime, lease_seconds: int) -> bool:
        """Take the lease on effect ``key``: False if it is already done; ``EffectBusy`` while another holds it."""
        outcome = self._update(
            run_id,
            "SET claims.#key = :until",
            f"attribute_exists({RUN_ID}) AND attribute_not_exists(effects.#key) "
            "AND (attribute_not_exists(claims.#key) OR claims.#key < :now)",
            {"#key": key},
            {":until": int(now.timestamp()) + lease_seconds, ":now": int(now.timestamp())},
        )
        if outcome is Outcome.DONE:
            return True
        run = self.get_run(run_id)
        if run is None:
            raise LookupError(f"run {run_id} does not exist")
        if key in run.effects:
            return False
        raise EffectBusy(f"effect {key} of run {run_id} is being carried out")

    def release(self, run_id: str, key: str) -> None:
        """Give up the lease after a failure, so a retry need not wait for it to expire."""
        self._table.update_item(
            Key={RUN_ID: run_id}, UpdateExpression="REMOVE claims.#key", ExpressionAttributeNames={"#key": key}
        )

    def complete(
        self, run_id: str, key: str, *, now: datetime, task: tuple[int, TaskState, str | None] | None = None
    ) -> None:
        """Record effect ``key`` as done, and with it a task's new state (and why it failed, if it did).

        The task's state is set only while it is still pending: a workflow run can complete, and
        its result be recorded, before the dispatch that started it is.
        """
        names = {"#key": key}
        values: dict[str, Any] = {":at": _timestamp(now)}
        if task is not None:
            issue, state, note = task
            assignments = ["effects.#key = :at", "tasks.#issue.#state = :state"]
            task_values = values | {":state": state, ":pending": "pending"}
            if note is not None:
                task_values[":note"] = note
                assignments.append("tasks.#issue.note = :note")
            outcome = self._update(
                run_id,
                "SET " + ", ".join(assignments) + " REMOVE claims.#key",
                "tasks.#issue.#state = :pending",
                names | {"#issue": str(issue), "#state": "state"},
                task_values,
            )
            if outcome is Outcome.DONE:
                return
        self._table.update_item(
            Key={RUN_ID: run_id},
            UpdateExpression="SET effects.#key = :at REMOVE claims.#key",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    # Internals

    def _close_open_run(
        self, run_id: str, repository: str, status: Status, *, by: str, now: datetime, require_tasks: bool
    ) -> Outcome:
        condition = "#status = :from" + (" AND size(tasks) > :none" if require_tasks else "")
        values: dict[str, Any] = {":from": "proposed", ":to": status, ":entry": [_history(now, by, status)]}
        if require_tasks:
            values[":none"] = 0
        writes = [
            {
                "Update": {
                    "Key": {RUN_ID: run_id},
                    "UpdateExpression": "SET #status = :to, history = list_append(history, :entry)",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": values,
                }
            },
            {
                "Update": {
                    "Key": {RUN_ID: _open_key(repository)},
                    "UpdateExpression": "REMOVE open_run_id",
                    "ConditionExpression": "open_run_id = :run",
                    "ExpressionAttributeValues": {":run": run_id},
                }
            },
        ]
        return self._transact(writes, None, now, conflict_at=0)

    def _transition(self, run_id: str, sources: Sequence[Status], status: Status, *, by: str, now: datetime) -> Outcome:
        placeholders = {f":from{index}": source for index, source in enumerate(sources)}
        return self._update(
            run_id,
            "SET #status = :to, history = list_append(history, :entry)",
            f"#status IN ({', '.join(placeholders)})",
            {"#status": "status"},
            placeholders | {":to": status, ":entry": [_history(now, by, status)]},
        )

    def _update(
        self, run_id: str, update: str, condition: str, names: Mapping[str, str], values: Mapping[str, Any]
    ) -> Outcome:
        from botocore.exceptions import ClientError

        try:
            self._table.update_item(
                Key={RUN_ID: run_id},
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists({RUN_ID}) AND ({condition})",
                ExpressionAttributeNames=dict(names),
                ExpressionAttributeValues=dict(values),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return Outcome.CONFLICT
            raise
        return Outcome.DONE

    def _transact(self, writes: list[dict[str, Any]], seen: str | None, now: datetime, *, conflict_at: int) -> Outcome:
        """All of ``writes`` (plus the mark that body ``seen`` was processed) or none.

        Which condition failed decides the outcome: the seen mark → DUPLICATE; the write at
        ``conflict_at`` → CONFLICT; any other → DUPLICATE (the request was carried out before).
        """
        from botocore.exceptions import ClientError

        items = list(writes)
        if seen is not None:
            marker = {RUN_ID: f"seen#{seen}", EXPIRES_AT: self._expiry(now)}
            items.append({"Put": {"Item": marker, "ConditionExpression": f"attribute_not_exists({RUN_ID})"}})
        for_table = [{kind: {"TableName": self._table.name, **write} for kind, write in item.items()} for item in items]
        attempt = 1
        while True:
            try:
                self._client.transact_write_items(TransactItems=for_table)
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                failed = [index for index, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
                if not failed:
                    # Another request wrote one of the items at the same moment; nothing was written,
                    # and the conditions are checked afresh on the next attempt.
                    if "TransactionConflict" in reasons and attempt < TRANSACTION_ATTEMPTS:
                        attempt += 1
                        continue
                    raise
                if seen is not None and len(items) - 1 in failed:
                    return Outcome.DUPLICATE
                return Outcome.CONFLICT if conflict_at in failed else Outcome.DUPLICATE
            return Outcome.DONE

    def _expiry(self, now: datetime) -> int:
        return int((now + self._ttl).timestamp())


def runs_table() -> Any:
    """The table named by ``RUNS_TABLE_NAME``."""
    return _dynamodb().Table(os.environ[contract.RUNS_TABLE_NAME])


@functools.cache
def _dynamodb() -> Any:
    # Imported here, not at module load: the Discord handler must start well inside Discord's
    # 3 seconds, and boto3 is the heaviest import of all. One resource for the container's life.
    import boto3

    return boto3.resource("dynamodb")


def _open_key(repository: str) -> str:
    # GitHub names one repository in any case: one open run per repository, however it is spelt.
    return f"open#{repository.lower()}"


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def _timestamp(moment: datetime) -> str:
    # One fixed width and zone, so that string order in the index is time order.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _history(now: datetime, by: str, action: str) -> dict[str, str]:
    return {"at": _timestamp(now), "by": by, "action": action}


def _task_item(task: Task) -> dict[str, Any]:
    item: dict[str, Any] = {"issue": task.issue, "title": task.title, "url": task.url, "state": task.state}
    if task.result_url is not None:
        item["result_url"] = task.result_url
    if task.note is not None:
        item["note"] = task.note
    return item


def _run(item: Mapping[str, Any]) -> Run:
    """A run as ``propose`` wrote it and the transitions changed it; any other item is refused."""
    run_id = item[RUN_ID]
    tasks = {
        int(number): Task(
            issue=int(task["issue"]),
            title=task["title"],
            url=task["url"],
            state=_one_of(TASK_STATES, task["state"], f"run {run_id} task #{number} state"),
            result_url=task.get("result_url"),
            note=task.get("note"),
        )
        for number, task in item["tasks"].items()
    }
    return Run(
        run_id=run_id,
        status=_one_of(STATUSES, item["status"], f"run {run_id} status"),
        repository=item["repository"],
        requested_by=item["requested_by"],
        source=_one_of(SOURCES, item["source"], f"run {run_id} source"),
        created_at=item[CREATED_AT],
        tasks=dict(sorted(tasks.items())),
        history=[HistoryEntry(entry["at"], entry["by"], entry["action"]) for entry in item["history"]],
        effects=frozenset(item["effects"]),
    )


def _one_of(allowed: Sequence[_Word], value: object, what: str) -> _Word:
    for word in allowed:
        if value == word:
            return word
    raise ValueError(f"{what} is {value!r}, not one of {', '.join(allowed)}")
