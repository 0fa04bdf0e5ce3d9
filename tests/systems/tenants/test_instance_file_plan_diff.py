"""Adding or removing an instance file changes that tenant's own stack and nothing of the platform's."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from systems.tenants.tenant_config import API_TOKEN_VARIABLE
from tests.project_copy import copy_project
from tests.stacks import platform_plan
from tools.offline_plan import Plan, diff_plans, evaluate_project, referenced_stack

NEW_INSTANCE = """\
instance_id: initech
org_id: initech
environment: prod
rate_limits:
  ideogram-v3: {rpm: 10, tpm: 20000}
api_keys: [primary]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("project") / "orchestra")


@pytest.fixture(scope="module")
def shipped(project: Path) -> Plan:
    return evaluate_project(project, "prod")


@pytest.fixture
def changed(project: Path) -> Iterator[Callable[[Callable[[Path], object]], Plan]]:
    """The prod platform plan after a change to the instances directory, which is restored afterwards."""
    instances = project / "instances"
    saved = {path.name: path.read_text() for path in instances.iterdir()}

    def plan_with(change: Callable[[Path], object]) -> Plan:
        change(instances)
        return evaluate_project(project, "prod")

    yield plan_with
    for path in instances.iterdir():
        path.unlink()
    for name, text in saved.items():
        (instances / name).write_text(text)


def test_adding_an_instance_file_leaves_the_platform_as_it_is(
    project: Path, shipped: Plan, changed: Callable[[Callable[[Path], object]], Plan]
) -> None:
    with_initech = changed(lambda d: (d / "initech.yaml").write_text(NEW_INSTANCE))
    diff = diff_plans(shipped, with_initech)
    assert (diff.added, diff.removed, diff.changed, diff.outputs) == ((), (), (), ())

    # The new tenant is a stack of its own, holding only its resources.
    tenant = evaluate_project(
        project / "tenants",
        "initech",
        {"organization/orchestra/prod": referenced_stack(platform_plan("prod"))},
        secret_environment=[API_TOKEN_VARIABLE],
    )
    assert sorted((r.type, r.name) for r in tenant.resources if r.type.startswith("orchestra:")) == [
        ("orchestra:cloudflare:Account", "cloudflare"),
        ("orchestra:cloudflare:D1Database", "tenants-initech-config"),
        ("orchestra:cloudflare:Worker", "tenants-initech-config-service"),
        ("orchestra:cloudflare:Worker", "tenants-initech-image-gen"),
        ("orchestra:system:TenantInstance", "tenants-initech"),
    ]


def test_removing_an_instance_file_leaves_the_platform_as_it_is(
    shipped: Plan, changed: Callable[[Callable[[Path], object]], Plan]
) -> None:
    diff = diff_plans(shipped, changed(lambda d: (d / "globex.yaml").unlink()))
    assert (diff.added, diff.removed, diff.changed, diff.outputs) == ((), (), (), ())
