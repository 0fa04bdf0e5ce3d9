"""A run from start to end, in-process: signed requests → the handlers → the queue (moto) →
the worker → fake GitHub and Discord APIs, with the table's state asserted at each step."""

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from systems.orchestrator.handlers.run_store import RunStore
from tests.systems.orchestrator.handlers.conftest import RunWorker, WorkQueue
from tests.systems.orchestrator.handlers.fakes import FakeDiscord, FakeGitHub, FakeIssue
from tests.systems.orchestrator.handlers.support import CHANNEL, REPOSITORY, WORKFLOW, FrozenClock, interaction

Build = Callable[..., dict[str, Any]]
Call = Callable[[Mapping[str, Any]], tuple[int, Any]]

_ids = itertools.count(1300000000000001000)


def command(discord: FakeDiscord, name: str, options: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """A fresh interaction (its own id and live token) and its token."""
    number = next(_ids)
    token = f"token-{number}"
    discord.live_tokens.add(token)
    return interaction(name, options, interaction_id=str(number), token=token), token


def completed(run_id: str, issue: int, conclusion: str) -> dict[str, Any]:
    return {
        "action": "completed",
        "workflow_run": {
            "id": 9000 + issue,
            "display_title": f"orchestra {run_id} #{issue}",
            "conclusion": conclusion,
            "event": "workflow_dispatch",
            "path": f".github/workflows/{WORKFLOW}",
        },
        "repository": {"full_name": REPOSITORY},
        "sender": {"login": "github-actions[bot]"},
    }


def test_plan_approve_execute_and_ship(
    discord_request: Build,
    call_discord: Call,
    github_request: Build,
    call_github: Call,
    run_worker: RunWorker,
    work: WorkQueue,
    fake_github: FakeGitHub,
    fake_discord: FakeDiscord,
    frozen_clock: FrozenClock,
) -> None:
    store = RunStore.from_environment()
    fake_github.workflows[REPOSITORY] = {WORKFLOW}
    for number in (7, 8):
        fake_github.add_issue(REPOSITORY, FakeIssue(number, f"Issue {number}"))

    # /plan: answered at once, planned by the worker.
    plan, plan_token = command(fake_discord, "plan")
    assert call_discord(discord_request(plan)) == (200, {"type": 5})
    (run_id,) = [run.run_id for run in store.recent_runs(frozen_clock.now, [REPOSITORY])]
    run = store.get_run(run_id)
    assert run is not None and (run.status, run.tasks) == ("proposed", {})
    assert run_worker() == {"batchItemFailures": []}
    assert sorted(store.get_run(run_id).tasks) == [7, 8]  # type: ignore[union-attr]
    assert fake_discord.replies[plan_token][0].startswith(f"Run `{run_id}` for {REPOSITORY} (proposed), 2 issue(s):")

    # An issue labelled ready joins the proposed run; the channel is told.
    fake_github.add_issue(REPOSITORY, FakeIssue(9, "Issue 9"))
    labeled = {
        "action": "labeled",
        "label": {"name": "ready"},
        "issue": {"number": 9, "title": "Issue 9", "state": "open"},
        "repository": {"full_name": REPOSITORY},
        "sender": {"login": "hubot"},
    }
    assert call_github(github_request("issues", labeled)) == (201, {"run_id": run_id, "duplicate": False})
    assert sorted(store.get_run(run_id).tasks) == [7, 8, 9]  # type: ignore[union-attr]
    assert run_worker() == {"batchItemFailures": []}
    assert fake_discord.posts == [
        (CHANNEL, f"Issue [#9](https://github.com/{REPOSITORY}/issues/9) Issue 9 joined run `{run_id}` (proposed).")
    ]

    # /approve: the workflow is dispatched once per task, each issue gets a link back.
    frozen_clock.advance(60)
    approve, approve_token = command(fake_discord, "approve", {"run_id": run_id})
    assert call_discord(discord_request(approve)) == (200, {"type": 5})
    assert store.get_run(run_id).status == "approved"  # type: ignore[union-attr]
    assert run_worker() == {"batchItemFailures": []}
    run = store.get_run(run_id)
    assert run is not None and run.status == "running"
    assert {n: t.state for n, t in run.tasks.items()} == {7: "dispatched", 8: "dispatched", 9: "dispatched"}
    assert [body["inputs"] for _, _, body in fake_github.dispatches] == [
        {"issue": str(n), "run_id": run_id} for n in (7, 8, 9)
    ]
    assert [number for _, number, _ in fake_github.comments] == [7, 8, 9]
    assert fake_discord.replies[approve_token][0].startswith(f"Run `{run_id}` for {REPOSITORY} is running:")

    # /status shows the run and its tasks.
    status, _ = command(fake_discord, "status", {"run_id": run_id})
    _, reply = call_discord(discord_request(status))
    assert "- #9 Issue 9: dispatched" in reply["data"]["content"]

    # The workflow runs complete; the run finishes and the channel is told, with links.
    for issue, conclusion in ((7, "success"), (8, "success"), (9, "failure")):
        assert call_github(github_request("workflow_run", completed(run_id, issue, conclusion)))[0] == 200
    assert run_worker() == {"batchItemFailures": []}
    run = store.get_run(run_id)
    assert run is not None and run.status == "failed"
    assert {n: t.state for n, t in run.tasks.items()} == {7: "succeeded", 8: "succeeded", 9: "failed"}
    summary = fake_discord.posts[-1][1]
    assert summary.startswith(f"Run `{run_id}` for {REPOSITORY} failed: 2 done, 1 failed.")
    assert f"([run](https://github.com/{REPOSITORY}/actions/runs/9009))" in summary

    # /ship waits for the merged pull requests, then closes what shipped.
    fake_github.merged[REPOSITORY] = {f"orchestra/{run_id}/7"}
    ship, ship_token = command(fake_discord, "ship", {"run_id": run_id})
    assert call_discord(discord_request(ship)) == (200, {"type": 5})
    assert run_worker() == {"batchItemFailures": []}
    assert store.get_run(run_id).status == "failed"  # type: ignore[union-attr]
    assert "not shipped" in fake_discord.replies[ship_token][0]

    fake_github.merged[REPOSITORY].add(f"orchestra/{run_id}/8")
    ship, ship_token = command(fake_discord, "ship", {"run_id": run_id})
    assert call_discord(discord_request(ship)) == (200, {"type": 5})
    assert run_worker() == {"batchItemFailures": []}
    run = store.get_run(run_id)
    assert run is not None and run.status == "shipped"
    assert [entry.action for entry in run.history] == [
        "proposed",
        "planned 2 issue(s)",
        "added #9",
        "approved",
        "running",
        "#7 succeeded",
        "#8 succeeded",
        "#9 failed",
        "failed",
        "shipped",
    ]
    assert {n: i.state for n, i in fake_github.issues[REPOSITORY].items()} == {7: "closed", 8: "closed", 9: "open"}
    assert fake_discord.replies[ship_token][0].startswith(f"Run `{run_id}` for {REPOSITORY} shipped: 2 done, 1 failed.")
    assert fake_discord.posts[-1][1] == fake_discord.replies[ship_token][0]
    assert work.count() == 0
