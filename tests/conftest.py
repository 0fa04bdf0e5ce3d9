import pytest

from tests.stacks import ROOT, SHIPPED_STACKS
from tools.offline_plan import Plan, evaluate_project


@pytest.fixture(scope="session", params=SHIPPED_STACKS)
def shipped_plan(request: pytest.FixtureRequest) -> Plan:
    """The whole program's offline plan for each stack the repository ships, evaluated once per run."""
    return evaluate_project(ROOT, request.param)
