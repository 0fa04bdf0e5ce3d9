import json
from typing import Any

import pytest

from systems.orchestrator.handlers import health

VERSION = "9f" * 32


def get(method: str = "GET") -> tuple[int, Any]:
    event = {"version": "2.0", "routeKey": "ANY /healthz", "requestContext": {"http": {"method": method}}}
    response = health.handler(event, None)
    assert response["headers"] == {"content-type": "application/json"}
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture(autouse=True)
def version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERSION", VERSION)


def test_healthy_when_the_runs_table_answers(runs_table: Any) -> None:
    assert get() == (200, {"status": "ok", "version": VERSION, "checks": {"runs_table": "ok"}})


def test_failing_names_the_check_and_its_error(runs_table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNS_TABLE_NAME", "orchestra-runs-deleted")
    assert get() == (
        503,
        {"status": "failing", "version": VERSION, "checks": {"runs_table": "ResourceNotFoundException"}},
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
def test_other_methods_are_refused(runs_table: Any, method: str) -> None:
    assert get(method) == (405, {"error": "only GET is allowed on /healthz"})
