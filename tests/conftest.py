import pytest

from tests.stacks import SHIPPED_STACKS, SHIPPED_TENANTS, platform_plan, tenant_plan
from tools.offline_plan import Plan


@pytest.fixture(scope="session", params=SHIPPED_STACKS)
def shipped_plan(request: pytest.FixtureRequest) -> Plan:
    """The whole program's offline plan for each stack the repository ships, evaluated once per run."""
    return platform_plan(request.param)


@pytest.fixture(scope="session", params=sorted(SHIPPED_TENANTS))
def shipped_tenant_plan(request: pytest.FixtureRequest) -> Plan:
    """Each tenant stack the repository ships (one per instance file), planned against its platform's plan."""
    return tenant_plan(request.param)
