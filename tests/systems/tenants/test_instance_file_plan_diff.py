"""Adding or removing an instance file changes that instance's resources and nothing else."""

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.project_copy import copy_project
from tools.offline_plan import Plan, diff_plans, evaluate_project

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


def plan_with(project: Path, change: Callable[[Path], object]) -> Plan:
    """The prod plan after `change` to the instances directory, which is restored afterwards."""
    instances = project / "instances"
    saved = {path.name: path.read_text() for path in instances.iterdir()}
    try:
        change(instances)
        return evaluate_project(project, "prod")
    finally:
        for path in instances.iterdir():
            path.unlink()
        for name, text in saved.items():
            (instances / name).write_text(text)


def instance_tree(plan: Plan, instance: str) -> set[str]:
    """The URNs of the instance's component and everything under it."""
    tree = {plan.one("orchestra:system:TenantInstance", instance).urn}
    pending = list(tree)
    while pending:
        children = [child.urn for child in plan.children_of(pending.pop())]
        tree.update(children)
        pending.extend(children)
    return tree


def test_adding_an_instance_file_adds_only_that_instance(project: Path, shipped: Plan) -> None:
    with_initech = plan_with(project, lambda d: (d / "initech.yaml").write_text(NEW_INSTANCE))
    diff = diff_plans(shipped, with_initech)
    assert (diff.removed, diff.changed) == ((), ())
    assert {resource.urn for resource in diff.added} == instance_tree(with_initech, "tenants-initech")
    assert sorted((r.type, r.name) for r in diff.added if r.type.startswith("orchestra:")) == [
        ("orchestra:cloudflare:D1Database", "tenants-initech-config"),
        ("orchestra:cloudflare:Worker", "tenants-initech-config-service"),
        ("orchestra:cloudflare:Worker", "tenants-initech-image-gen"),
        ("orchestra:system:TenantInstance", "tenants-initech"),
    ]
    assert {change.path for change in diff.outputs} == {
        "healthUrls.config-service-initech",
        "healthUrls.image-gen-initech",
        "serviceVersions.config-service-initech",
        "serviceVersions.image-gen-initech",
        "tenantApiKeys.initech",
        "tenantInstances.initech",
    }


def test_removing_an_instance_file_removes_only_that_instance(project: Path, shipped: Plan) -> None:
    diff = diff_plans(shipped, plan_with(project, lambda d: (d / "globex.yaml").unlink()))
    assert (diff.added, diff.changed) == ((), ())
    assert {resource.urn for resource in diff.removed} == instance_tree(shipped, "tenants-globex")
    assert "tenants-globex-registry-entry" in {resource.name for resource in diff.removed}
    assert {change.path for change in diff.outputs} == {
        "healthUrls.config-service-globex",
        "healthUrls.image-gen-globex",
        "serviceVersions.config-service-globex",
        "serviceVersions.image-gen-globex",
        "tenantApiKeys.globex",
        "tenantInstances.globex",
    }
