from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from systems.orchestrator.handlers.run import Task, body_digest, run_id_for
from systems.orchestrator.handlers.run_store import EffectBusy, Outcome, RunStore

REPOSITORY = "octo-org/widgets"
AT = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def task(issue: int) -> Task:
    return Task(issue, f"Issue {issue}", f"https://github.com/{REPOSITORY}/issues/{issue}")


def propose(store: RunStore, run_id: str, at: datetime = AT, repository: str = REPOSITORY, **options: Any) -> Outcome:
    return store.propose(run_id=run_id, repository=repository, source="github", requested_by="hubot", now=at, **options)


@pytest.fixture
def store(runs_table: Any) -> RunStore:
    return RunStore.from_environment()


def test_run_ids_are_stable_per_request_and_distinct_across_requests() -> None:
    assert run_id_for("discord:1") == run_id_for("discord:1")
    assert run_id_for("discord:1") != run_id_for("github:1")
    assert len(run_id_for("discord:1")) == len("run-") + 16
    assert body_digest("issues", b"{}") != body_digest("workflow_run", b"{}")


def test_one_open_run_per_repository(store: RunStore, count_runs: Callable[[], int]) -> None:
    assert propose(store, "run-a") is Outcome.DONE
    assert propose(store, "run-b") is Outcome.CONFLICT
    assert propose(store, "run-c", repository="octo-org/gadgets") is Outcome.DONE
    assert store.open_run_id(REPOSITORY) == "run-a"
    assert store.get_run("run-b") is None
    assert count_runs() == 4


def test_the_same_run_proposed_twice_is_a_duplicate(store: RunStore) -> None:
    propose(store, "run-a")
    store.cancel("run-a", REPOSITORY, by="nelly", now=AT)
    assert propose(store, "run-a") is Outcome.DUPLICATE
    assert store.open_run_id(REPOSITORY) is None


def test_a_seen_body_is_a_duplicate_whatever_run_it_would_touch(store: RunStore, count_runs: Callable[[], int]) -> None:
    assert propose(store, "run-a", tasks=[task(1)], seen="digest-1") is Outcome.DONE
    assert store.join("run-a", task(2), by="hubot", now=AT, seen="digest-1") is Outcome.DUPLICATE
    assert sorted(store.get_run("run-a").tasks) == [1]  # type: ignore[union-attr]
    assert count_runs() == 3


def test_join_needs_a_proposed_run_without_the_task(store: RunStore) -> None:
    propose(store, "run-a", tasks=[task(1)])
    assert store.join("run-a", task(1), by="hubot", now=AT) is Outcome.CONFLICT
    assert store.join("run-a", task(2), by="hubot", now=AT) is Outcome.DONE
    store.approve("run-a", REPOSITORY, by="nelly", now=AT)
    assert store.join("run-a", task(3), by="hubot", now=AT) is Outcome.CONFLICT
    assert sorted(store.get_run("run-a").tasks) == [1, 2]  # type: ignore[union-attr]


def test_a_run_holds_at_most_fifty_tasks(store: RunStore) -> None:
    propose(store, "run-a", tasks=[task(issue) for issue in range(1, 51)])
    assert store.join("run-a", task(51), by="hubot", now=AT) is Outcome.CONFLICT


def test_the_lifecycle_moves_only_forward(store: RunStore) -> None:
    propose(store, "run-a", tasks=[task(1), task(2)])
    assert store.start("run-a", now=AT) is Outcome.CONFLICT
    assert store.approve("run-a", REPOSITORY, by="nelly", now=AT) is Outcome.DONE
    assert store.approve("run-a", REPOSITORY, by="nelly", now=AT) is Outcome.CONFLICT
    assert store.cancel("run-a", REPOSITORY, by="nelly", now=AT) is Outcome.CONFLICT
    assert store.start("run-a", now=AT) is Outcome.DONE
    assert store.finish("run-a", now=AT) is Outcome.CONFLICT
    assert store.record_result("run-a", 1, succeeded=True, result_url="u1", now=AT) is Outcome.DONE
    assert store.record_result("run-a", 1, succeeded=False, result_url="u1", now=AT) is Outcome.CONFLICT
    assert store.record_result("run-a", 3, succeeded=True, result_url="u3", now=AT) is Outcome.CONFLICT
    assert store.ship("run-a", by="nelly", now=AT) is Outcome.CONFLICT
    assert store.record_result("run-a", 2, succeeded=False, result_url="u2", now=AT) is Outcome.DONE
    assert store.finish("run-a", now=AT) is Outcome.DONE
    assert store.finish("run-a", now=AT) is Outcome.CONFLICT
    assert store.ship("run-a", by="nelly", now=AT) is Outcome.DONE
    run = store.get_run("run-a")
    assert run is not None and run.status == "shipped"
    assert [entry.action for entry in run.history] == [
        "proposed",
        "approved",
        "running",
        "#1 succeeded",
        "#2 failed",
        "failed",
        "shipped",
    ]


def test_approving_needs_at_least_one_task(store: RunStore) -> None:
    propose(store, "run-a")
    assert store.approve("run-a", REPOSITORY, by="nelly", now=AT) is Outcome.CONFLICT
    assert store.get_run("run-a").status == "proposed"  # type: ignore[union-attr]
    assert store.open_run_id(REPOSITORY) == "run-a"


def test_transitions_of_a_missing_run_change_nothing(store: RunStore, count_runs: Callable[[], int]) -> None:
    assert store.start("run-missing", now=AT) is Outcome.CONFLICT
    assert store.ship("run-missing", by="nelly", now=AT) is Outcome.CONFLICT
    assert store.finish("run-missing", now=AT) is Outcome.MISSING
    assert count_runs() == 0


def test_an_effect_is_claimed_once_and_never_repeated(store: RunStore) -> None:
    propose(store, "run-a", tasks=[task(1)])
    assert store.claim("run-a", "dispatch:1", now=AT, lease_seconds=60) is True
    with pytest.raises(EffectBusy):
        store.claim("run-a", "dispatch:1", now=AT + timedelta(seconds=59), lease_seconds=60)
    store.complete("run-a", "dispatch:1", now=AT, task=(1, "dispatched", None))
    assert store.claim("run-a", "dispatch:1", now=AT + timedelta(hours=1), lease_seconds=60) is False
    run = store.get_run("run-a")
    assert run is not None and run.tasks[1].state == "dispatched" and "dispatch:1" in run.effects


def test_a_result_recorded_before_its_dispatch_is_kept(store: RunStore) -> None:
    propose(store, "run-a", tasks=[task(1)])
    store.approve("run-a", REPOSITORY, by="nelly", now=AT)
    store.claim("run-a", "dispatch:1", now=AT, lease_seconds=60)
    # The workflow ran and reported before the worker recorded that it had dispatched it.
    assert store.record_result("run-a", 1, succeeded=True, result_url="u1", now=AT) is Outcome.DONE

    store.complete("run-a", "dispatch:1", now=AT, task=(1, "dispatched", None))

    run = store.get_run("run-a")
    assert run is not None and run.tasks[1].state == "succeeded" and "dispatch:1" in run.effects
    assert store.claim("run-a", "dispatch:1", now=AT, lease_seconds=60) is False


def test_an_expired_or_released_claim_can_be_taken_again(store: RunStore) -> None:
    propose(store, "run-a", tasks=[task(1)])
    store.claim("run-a", "comment:1", now=AT, lease_seconds=60)
    assert store.claim("run-a", "comment:1", now=AT + timedelta(seconds=61), lease_seconds=60) is True
    store.release("run-a", "comment:1")
    assert store.claim("run-a", "comment:1", now=AT + timedelta(seconds=62), lease_seconds=60) is True


def test_runs_and_seen_marks_expire_after_run_ttl_days(runs_table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_TTL_DAYS", "7")
    propose(RunStore.from_environment(), "run-a", seen="digest")
    expiry = int((AT + timedelta(days=7)).timestamp())
    assert runs_table.get_item(Key={"run_id": "run-a"})["Item"]["expires_at"] == expiry
    assert runs_table.get_item(Key={"run_id": "seen#digest"})["Item"]["expires_at"] == expiry


@pytest.mark.parametrize("setting", ["0", "-1", "ninety", "1.5", ""])
def test_an_invalid_run_ttl_days_is_refused(runs_table: Any, monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("RUN_TTL_DAYS", setting)
    with pytest.raises(ValueError, match="RUN_TTL_DAYS must be a whole number of days >= 1"):
        RunStore.from_environment()


def test_recent_runs_fill_up_from_the_previous_month_newest_first(store: RunStore) -> None:
    for index, at in enumerate(
        [
            datetime(2026, 9, 30, 23, 0, tzinfo=UTC),
            datetime(2026, 10, 30, tzinfo=UTC),
            datetime(2026, 10, 31, 23, 59, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 11, 2, tzinfo=UTC),
        ]
    ):
        propose(store, f"run-{index}", at, repository=f"octo-org/r{index}")

    runs = store.recent_runs(datetime(2026, 11, 3, tzinfo=UTC), [f"octo-org/r{i}" for i in range(5)])

    assert [run.run_id for run in runs] == ["run-4", "run-3", "run-2", "run-1"]


def test_recent_runs_are_only_those_of_the_repositories_asked_for(store: RunStore) -> None:
    for day in range(1, 8):
        at, repository = datetime(2026, 11, day, tzinfo=UTC), f"octo-org/r{day % 2}"
        assert propose(store, f"run-{day}", at, repository=repository) is Outcome.DONE
        store.cancel(f"run-{day}", repository, by="nelly", now=at)

    runs = store.recent_runs(datetime(2026, 11, 8, tzinfo=UTC), ["octo-org/r1"], limit=3)

    assert [run.run_id for run in runs] == ["run-7", "run-5", "run-3"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"status": "queued"}, "status is 'queued', not one of proposed, approved"),
        ({"source": "slack"}, "source is 'slack', not one of discord, github"),
        ({"tasks": {"7": {"issue": 7, "title": "T", "url": "u", "state": "done"}}}, "task #7 state is 'done'"),
    ],
)
def test_a_run_item_no_transition_could_write_is_refused(
    runs_table: Any, store: RunStore, change: dict[str, Any], error: str
) -> None:
    propose(store, "run-a", tasks=[task(7)])
    item = runs_table.get_item(Key={"run_id": "run-a"})["Item"]
    runs_table.put_item(Item=item | change)
    with pytest.raises(ValueError, match=f"run run-a {error}"):
        store.get_run("run-a")


def test_a_run_item_missing_what_propose_writes_is_refused(runs_table: Any, store: RunStore) -> None:
    propose(store, "run-a")
    item = runs_table.get_item(Key={"run_id": "run-a"})["Item"]
    runs_table.put_item(Item={key: value for key, value in item.items() if key != "history"})
    with pytest.raises(KeyError, match="history"):
        store.get_run("run-a")
