"""A run: one repository's issues, carried out as tasks, moving from state to state.

A run moves ``proposed → approved → running → succeeded | failed → shipped``, or from
``proposed`` to ``cancelled``; each of its tasks moves ``pending → dispatched → succeeded |
failed``. Its history says who did what, and when; its effects are the idempotency keys of what
the worker has done on other systems for it. ``run_store.py`` keeps runs in DynamoDB.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

Status = Literal["proposed", "approved", "running", "succeeded", "failed", "shipped", "cancelled"]
TaskState = Literal["pending", "dispatched", "succeeded", "failed"]
Source = Literal["discord", "github"]

STATUSES: tuple[Status, ...] = get_args(Status)
TASK_STATES: tuple[TaskState, ...] = get_args(TaskState)
SOURCES: tuple[Source, ...] = get_args(Source)
FINISHED: tuple[Status, ...] = ("succeeded", "failed")
TASK_FINISHED: tuple[TaskState, ...] = ("succeeded", "failed")
# Tasks one run may hold: keeps an item far below DynamoDB's 400 KB and a plan readable.
MAX_TASKS = 50


@dataclass(frozen=True)
class Task:
    issue: int
    title: str
    url: str
    state: TaskState = "pending"
    result_url: str | None = None
    """The workflow run that carried the task out."""
    note: str | None = None
    """Why a task failed without a workflow run (a dispatch GitHub refused)."""


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    by: str
    action: str


@dataclass(frozen=True)
class Run:
    run_id: str
    status: Status
    repository: str
    requested_by: str
    source: Source
    created_at: str
    tasks: Mapping[int, Task] = field(default_factory=dict)
    """Keyed and ordered by issue number."""
    history: Sequence[HistoryEntry] = ()
    effects: frozenset[str] = frozenset()

    def finished_tasks(self) -> bool:
        return bool(self.tasks) and all(task.state in TASK_FINISHED for task in self.tasks.values())

    def outcome(self) -> Status:
        """What a run whose tasks have all finished ends as: succeeded only if every task did."""
        return "succeeded" if all(task.state == "succeeded" for task in self.tasks.values()) else "failed"


def run_id_for(request_key: str) -> str:
    """A run id that is the same every time the same request arrives, so retries collide.

    ``request_key`` is the Discord interaction id or the webhook body's digest. Hashing gives
    ids of one short, safe shape; 64 bits make a collision negligible at this table's scale,
    and the conditional write refuses one anyway.
    """
    return f"run-{hashlib.sha256(request_key.encode()).hexdigest()[:16]}"


def body_digest(event_name: str, body: bytes) -> str:
    """What identifies a webhook body whatever delivery id it arrives under."""
    return hashlib.sha256(event_name.encode() + b"\0" + body).hexdigest()
