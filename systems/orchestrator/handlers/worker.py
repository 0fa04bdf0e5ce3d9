"""The worker: carries out queued messages against GitHub and Discord, each effect exactly once.

SQS delivers a message at least once, so every effect on another system that is not
idempotent by itself (a dispatch, a comment, a channel message, a plan) runs under an
idempotency key of the run (``dispatch:<issue>``, ``comment:<issue>``, ``joined:<issue>``,
``finished``, ``shipped``, ``plan:<interaction id>``): claimed with a lease, carried out, then
recorded as done. Editing an answer and closing an issue are idempotent already and simply run
again. An effect carried out but never recorded (its answer lost, its worker stopped) is not
repeated either: a dispatch is found among the workflow's runs by name, a comment by the hidden
marker it carries, and a channel message is sent with a nonce Discord enforces.

The handler reports failed messages one by one (``batchItemFailures``): a message that
fails is received again after its visibility timeout, and lands in the dead-letter queue
after the queue's bounded number of attempts. A refusal that retrying cannot change is not
retried: a workflow GitHub will not dispatch fails its task, an issue that takes no comment or
cannot be closed and a channel the bot cannot post to are passed over, and any other refusal is
reported in the answer to the person who asked. A message about a repository no longer in the
access file is dropped.
"""

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from . import access, clock, contract, discord_api, error_tracking, rest
from .github_api import GitHub, GitHubRefused
from .message import InvalidMessage, Message
from .run import MAX_TASKS, Run, Task, TaskState
from .run_store import EffectBusy, RunStore

READY_LABEL = "ready"
# A channel deleted, or one the bot may no longer see or post to: no retry changes that.
CHANNEL_GONE = (403, 404)

logger = logging.getLogger(__name__)


def handler(event: Mapping[str, Any], context: object) -> dict[str, list[dict[str, str]]]:
    failures = []
    for record in event.get("Records", []):
        message_id = record["messageId"]
        try:
            MessageHandler.from_environment().handle(Message.from_json(record["body"]))
        except (InvalidMessage, EffectBusy, rest.Unavailable, discord_api.DiscordRefused) as error:
            logger.warning("message %s failed: %s", message_id, error)
            failures.append({"itemIdentifier": message_id})
        except Exception as error:
            # Anything else is a bug; the message is kept for another attempt, then the dead-letter queue.
            logger.exception("message %s failed", message_id)
            error_tracking.report(error)
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


class MessageHandler:
    """Carries out one message of the work queue for the run it names."""

    def __init__(self, store: RunStore, permissions: access.Access, lease_seconds: int) -> None:
        self.store = store
        self.access = permissions
        self.lease_seconds = lease_seconds

    @classmethod
    def from_environment(cls) -> "MessageHandler":
        # A lease outlives the invocation that took it, so a crashed worker's claim expires by itself.
        lease_seconds = int(os.environ[contract.EFFECT_LEASE_SECONDS])
        return cls(RunStore.from_environment(), access.from_environment(), lease_seconds)

    def handle(self, message: Message) -> None:
        run = self.store.get_run(message.run_id)
        if run is None:
            raise InvalidMessage(f"run {message.run_id} does not exist")
        repository = self.access.repository(run.repository)
        if repository is None:
            # Removed from the access file since: the orchestrator no longer acts for it.
            logger.warning(
                "%s of run %s dropped: %s is no longer in the access file",
                message.type,
                run.run_id,
                run.repository,
                extra={"run_id": run.run_id},
            )
            return
        jobs: dict[str, Callable[[Run, access.Repository, Message], None]] = {
            "plan": self._plan,
            "approve": self._approve,
            "ship": self._ship,
            "joined": self._joined,
            "check": self._check,
        }
        try:
            jobs[message.type](run, repository, message)
        except GitHubRefused as refusal:
            # Not found, forbidden, invalid: no retry changes that, so the person who asked is told.
            logger.warning("%s of run %s refused: %s", message.type, run.run_id, refusal, extra={"run_id": run.run_id})
            self._reply(message, f"Run `{run.run_id}`: {refusal}.")

    # Jobs

    def _plan(self, run: Run, repository: access.Repository, message: Message) -> None:
        # Discord retrying the interaction, or its request replayed, queues the same plan again.
        self._once(run, f"plan:{message.interaction}", lambda: self._plan_now(run, repository, message))

    def _plan_now(self, run: Run, repository: access.Repository, message: Message) -> None:
        if run.status == "proposed":
            github = GitHub.for_repository(repository.name)
            issues = github.ready_issues(READY_LABEL, MAX_TASKS)
            # Issues that joined from GitHub meanwhile stay; the new ones fill what room is left.
            joining = [issue for issue in issues if issue.number not in run.tasks]
            listed = [issue for issue in issues if issue.number in run.tasks]
            kept = listed + joining[: max(0, MAX_TASKS - len(run.tasks))]
            tasks = [Task(issue.number, _line(issue.title), issue.url) for issue in kept]
            self.store.set_tasks(run.run_id, tasks, now=clock.now())
            run = self._reload(run)
        self._reply(message, _plan_text(run))

    def _approve(self, run: Run, repository: access.Repository, message: Message) -> None:
        if run.status == "approved":
            github = GitHub.for_repository(repository.name)
            undone = [task for task in run.tasks.values() if f"dispatch:{task.issue}" not in run.effects]
            # A dispatch GitHub carried out but whose answer was lost, or that a stopped worker never
            # recorded, shows as a workflow run of that name: it is recorded, not dispatched again.
            started = github.dispatched_run_names(repository.workflow) if undone else set()
            for task in undone:
                self._dispatch(github, repository, run, task, started)
            run = self._reload(run)
            comment = _comment(run, repository)
            for task in run.tasks.values():
                # A task GitHub refused to dispatch has nothing to link back to.
                if task.note is None:
                    key = f"comment:{task.issue}"
                    self._once(run, key, lambda issue=task.issue, key=key: _link_back(github, run, issue, key, comment))
            self.store.start(run.run_id, now=clock.now())
            if run.finished_tasks():
                self._finish(run, repository)
            run = self._reload(run)
        self._reply(message, _dispatch_text(run))

    def _ship(self, run: Run, repository: access.Repository, message: Message) -> None:
        # One client, so an App's token is minted once for the checks and the closing.
        github = GitHub.for_repository(repository.name)
        if run.status in ("succeeded", "failed"):
            unmerged = [
                task
                for task in run.tasks.values()
                if task.state == "succeeded" and not github.merged_pull_request(_branch(run, task))
            ]
            if unmerged:
                waiting = ", ".join(f"#{task.issue} (branch `{_branch(run, task)}`)" for task in unmerged)
                self._reply(message, f"Run `{run.run_id}` is not shipped: no merged pull request yet for {waiting}.")
                return
            self.store.ship(run.run_id, by=message.by or "unknown", now=clock.now())
            run = self._reload(run)
        if run.status != "shipped":
            self._reply(message, f"Run `{run.run_id}` is {run.status}; only a succeeded or failed run can be shipped.")
            return
        for task in run.tasks.values():
            if task.state == "succeeded":
                _close(github, task.issue)
        summary = _summary(run)
        self._announce(run, "shipped", repository.channel, summary)
        self._reply(message, summary)

    def _joined(self, run: Run, repository: access.Repository, message: Message) -> None:
        task = run.tasks.get(message.issue or 0)
        if task is None:
            raise InvalidMessage(f"run {run.run_id} has no task #{message.issue}")
        note = f"Issue [#{task.issue}]({task.url}) {task.title} joined run `{run.run_id}` ({run.status})."
        self._announce(run, f"joined:{task.issue}", repository.channel, note)

    def _check(self, run: Run, repository: access.Repository, message: Message) -> None:
        if run.finished_tasks():
            self._finish(run, repository)

    # Steps

    def _dispatch(self, github: GitHub, repository: access.Repository, run: Run, task: Task, started: set[str]) -> None:
        key = f"dispatch:{task.issue}"
        if key in run.effects or not self.store.claim(
            run.run_id, key, now=clock.now(), lease_seconds=self.lease_seconds
        ):
            return
        state: TaskState = "dispatched"
        note = None
        if _run_name(run, task) in started:
            self.store.complete(run.run_id, key, now=clock.now(), task=(task.issue, state, note))
            return
        try:
            github.dispatch(repository.workflow, repository.ref, {"issue": str(task.issue), "run_id": run.run_id})
        except GitHubRefused as refusal:
            # A missing workflow or a refused ref will not change on retry: the task failed.
            state, note = "failed", str(refusal)
        except BaseException:
            self.store.release(run.run_id, key)
            raise
        self.store.complete(run.run_id, key, now=clock.now(), task=(task.issue, state, note))

    def _finish(self, run: Run, repository: access.Repository) -> None:
        self.store.finish(run.run_id, now=clock.now())
        run = self._reload(run)
        if run.status in ("succeeded", "failed"):
            self._announce(run, "finished", repository.channel, _summary(run))

    def _announce(self, run: Run, key: str, channel: str, content: str) -> None:
        """Post ``content`` to the channel once, as effect ``key``."""

        def post() -> None:
            try:
                discord_api.post(channel, content, nonce=_nonce(run, key))
            except discord_api.DiscordRefused as refusal:
                if refusal.status not in CHANNEL_GONE:
                    raise
                # The channel is a courtesy: the run goes on, and its history says what was not told.
                logger.warning(
                    "run %s not told in channel %s: %s", run.run_id, channel, refusal, extra={"run_id": run.run_id}
                )
                self.store.note(run.run_id, f"not told in channel {channel} ({key}): {refusal}", now=clock.now())

        self._once(run, key, post)

    def _once(self, run: Run, key: str, effect: Callable[[], None]) -> None:
        if key in run.effects or not self.store.claim(
            run.run_id, key, now=clock.now(), lease_seconds=self.lease_seconds
        ):
            return
        try:
            effect()
        except BaseException:
            self.store.release(run.run_id, key)
            raise
        self.store.complete(run.run_id, key, now=clock.now())

    def _reply(self, message: Message, content: str) -> None:
        if message.reply is None:
            return
        try:
            discord_api.edit_reply(message.reply, content)
        except discord_api.DiscordRefused as refusal:
            # The token lasts 15 minutes; once it is gone no retry can edit the answer.
            logger.warning(
                "could not edit the reply for run %s: %s", message.run_id, refusal, extra={"run_id": message.run_id}
            )

    def _reload(self, run: Run) -> Run:
        reloaded = self.store.get_run(run.run_id)
        if reloaded is None:
            raise LookupError(f"run {run.run_id} disappeared")
        return reloaded


def _link_back(github: GitHub, run: Run, issue: int, key: str, comment: str) -> None:
    # A comment the worker wrote but whose answer was lost carries the marker: it is not written again.
    marker = f"<!-- orchestra {run.run_id} {key} -->"
    try:
        since = datetime.fromisoformat(run.created_at)
        if any(marker in body for body in github.own_comment_bodies(issue, since=since)):
            return
        github.comment(issue, f"{comment}\n\n{marker}")
    except GitHubRefused as refusal:
        # A locked, moved or deleted issue takes no comment; the link back is a courtesy, the run goes on.
        logger.warning("no link back on #%d: %s", issue, refusal)


def _close(github: GitHub, issue: int) -> None:
    try:
        github.close_issue(issue)
    except GitHubRefused as refusal:
        # A moved or deleted issue cannot be closed here; the run is shipped all the same.
        logger.warning("could not close #%d: %s", issue, refusal)


def _nonce(run: Run, key: str) -> str:
    """The same for every attempt at one effect of one run, and short enough for Discord."""
    return hashlib.sha256(f"{run.run_id} {key}".encode()).hexdigest()[: discord_api.MAX_NONCE]


def _run_name(run: Run, task: Task) -> str:
    """The name a task's workflow run carries (its ``run-name``): the contract with the workflow."""
    return f"orchestra {run.run_id} #{task.issue}"


def _branch(run: Run, task: Task) -> str:
    """The branch a task's workflow opens its pull request from: the contract with the workflow."""
    return f"orchestra/{run.run_id}/{task.issue}"


def _line(text: str) -> str:
    """One line of at most 200 characters, fit for a Discord list and the runs table."""
    single = " ".join(text.split()).encode("utf-8", "replace").decode("utf-8")
    return single if len(single) <= 200 else single[:199] + "…"


def _task_line(task: Task) -> str:
    result = f" ([run]({task.result_url}))" if task.result_url else ""
    note = f": {task.note}" if task.note else ""
    return f"- [#{task.issue}]({task.url}) {task.title}: {task.state}{result}{note}"


def _plan_text(run: Run) -> str:
    if not run.tasks:
        return f"Run `{run.run_id}` for {run.repository} has no open issues labelled `{READY_LABEL}` yet."
    lines = [f"Run `{run.run_id}` for {run.repository} ({run.status}), {len(run.tasks)} issue(s):"]
    lines += [f"- [#{task.issue}]({task.url}) {task.title}" for task in run.tasks.values()]
    if run.status == "proposed":
        lines.append(f"Approve with `/approve run_id:{run.run_id}`.")
    return "\n".join(lines)


def _dispatch_text(run: Run) -> str:
    lines = [f"Run `{run.run_id}` for {run.repository} is {run.status}:"]
    return "\n".join(lines + [_task_line(task) for task in run.tasks.values()])


def _summary(run: Run) -> str:
    done = sum(task.state == "succeeded" for task in run.tasks.values())
    failed = sum(task.state == "failed" for task in run.tasks.values())
    lines = [f"Run `{run.run_id}` for {run.repository} {run.status}: {done} done, {failed} failed."]
    return "\n".join(lines + [_task_line(task) for task in run.tasks.values()])


def _comment(run: Run, repository: access.Repository) -> str:
    channel = f"https://discord.com/channels/{repository.guild}/{repository.channel}"
    return (
        f"Orchestra run `{run.run_id}` dispatched `{repository.workflow}` for this issue. "
        f"Follow the run in [Discord]({channel}) (`/status run_id:{run.run_id}`)."
    )
