from pathlib import Path

import pytest

from tools.offline_plan import Plan, evaluate_project

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", params=["dev", "prod"])
def shipped_plan(request: pytest.FixtureRequest) -> Plan:
    """The whole program's offline plan for each stack the repository ships, evaluated once per run."""
    return evaluate_project(ROOT, request.param)
