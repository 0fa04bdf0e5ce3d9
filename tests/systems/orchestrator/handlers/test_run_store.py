from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from systems.orchestrator.handlers.run_store import Run, RunStore, run_id_for


def _create(store: RunStore, run_id: str, at: datetime, issue: int = 1) -> bool:
    return store.create_run(
        run_id=run_id, source="github", repository="octo-org/widgets", issue=issue, requested_by="hubot", now=at
    )


def test_run_ids_are_stable_per_request_and_distinct_across_requests_and_sources() -> None:
    assert run_id_for("github", "delivery-1") == run_id_for("github", "delivery-1")
    assert run_id_for("github", "delivery-1") != run_id_for("github", "delivery-2")
    assert run_id_for("github", "1") != run_id_for("discord", "1")
    assert run_id_for("discord", "1").startswith("discord-")
    assert len(run_id_for("discord", "1")) == len("discord-") + 16


def test_a_second_create_with_the_same_id_writes_nothing(runs_table: Any, count_runs: Callable[[], int]) -> None:
    store = RunStore.from_environment()
    at = datetime(2026, 11, 3, tzinfo=UTC)

    assert _create(store, "run-1", at, issue=1) is True
    assert _create(store, "run-1", at + timedelta(hours=1), issue=2) is False

    assert count_runs() == 1
    assert store.get_run("run-1") == Run(
        run_id="run-1",
        status="queued",
        source="github",
        repository="octo-org/widgets",
        issue=1,
        requested_by="hubot",
        created_at="2026-11-03T00:00:00.000000Z",
    )


def test_get_run_of_an_unknown_id_is_none(runs_table: Any) -> None:
    assert RunStore.from_environment().get_run("missing") is None


def test_runs_expire_after_run_ttl_days(runs_table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_TTL_DAYS", "7")
    at = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    _create(RunStore.from_environment(), "run-1", at)
    item = runs_table.get_item(Key={"run_id": "run-1"})["Item"]
    assert item["expires_at"] == int((at + timedelta(days=7)).timestamp())


@pytest.mark.parametrize("setting", ["0", "-1", "ninety", "1.5", ""])
def test_an_invalid_run_ttl_days_is_refused(runs_table: Any, monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("RUN_TTL_DAYS", setting)
    with pytest.raises(ValueError, match="RUN_TTL_DAYS must be a whole number of days >= 1"):
        RunStore.from_environment()


def test_recent_runs_fill_up_from_the_previous_month_newest_first(runs_table: Any) -> None:
    store = RunStore.from_environment()
    for run_id, at in [
        ("september", datetime(2026, 9, 30, 23, 0, tzinfo=UTC)),
        ("october-30", datetime(2026, 10, 30, tzinfo=UTC)),
        ("october-31", datetime(2026, 10, 31, 23, 59, tzinfo=UTC)),
        ("november-1", datetime(2026, 11, 1, tzinfo=UTC)),
        ("november-2", datetime(2026, 11, 2, tzinfo=UTC)),
    ]:
        _create(store, run_id, at)

    runs = store.recent_runs(datetime(2026, 11, 3, tzinfo=UTC))

    assert [run.run_id for run in runs] == ["november-2", "november-1", "october-31", "october-30"]


def test_recent_runs_stop_at_the_limit_within_this_month(runs_table: Any) -> None:
    store = RunStore.from_environment()
    _create(store, "october", datetime(2026, 10, 31, tzinfo=UTC))
    for day in range(1, 8):
        _create(store, f"november-{day}", datetime(2026, 11, day, tzinfo=UTC))

    runs = store.recent_runs(datetime(2026, 11, 8, tzinfo=UTC), limit=5)

    assert [run.run_id for run in runs] == [f"november-{day}" for day in (7, 6, 5, 4, 3)]


def test_recent_runs_in_january_look_back_to_december(runs_table: Any) -> None:
    store = RunStore.from_environment()
    _create(store, "december", datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    _create(store, "january", datetime(2027, 1, 1, 1, 0, tzinfo=UTC))

    runs = store.recent_runs(datetime(2027, 1, 1, 2, 0, tzinfo=UTC))

    assert [run.run_id for run in runs] == ["january", "december"]
