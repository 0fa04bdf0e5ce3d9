"""A third stack is data only: a `Pulumi.staging.yaml` (a copy of dev's with its own names), its
environments in `delivery.yaml`, and, to guard it, its name in `orchestra:guardedStacks`. Its plan,
its policy and its roles then follow without a change to the code."""

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from components.stateful import STATEFUL_TYPES
from stack_config.stacks import stack_names
from systems.tenants.tenant_config import API_TOKEN_VARIABLE
from tests.project_copy import copy_project
from tests.test_identities import (
    assert_children_are_named_from_their_parents,
    assert_physical_names_end_with_the_stack,
    public_names,
)
from tools.offline_plan import Plan, check_policies, compose_config, evaluate_project, load_project, referenced_stack

STAGING_NAMES = {
    "stack: dev": "stack: staging",
    "orchestra:environment: dev": "orchestra:environment: staging",
    '"1300000000000000001"': '"1300000000000000003"',
    '"1000001"': '"1000003"',
    "0123456789abcdef0123456789abcde1": "0123456789abcdef0123456789abcde3",
    "https://dev.app.example.com": "https://staging.app.example.com",
    "orchestra:rateLimitNamespaceBase: 1000": "orchestra:rateLimitNamespaceBase: 3000",
}
STAGING_INSTANCE = """\
instance_id: acme-staging
org_id: acme
environment: staging
rate_limits:
  ideogram-v3: {rpm: 20, tpm: 40000}
api_keys: [primary]
"""


def add_staging(destination: Path, *, guarded: bool) -> Path:
    """A copy of the project with a staging stack, made by editing data files only."""
    project = copy_project(destination)
    stack_file = (project / "Pulumi.dev.yaml").read_text()
    for dev, staging in STAGING_NAMES.items():
        assert dev in stack_file, dev
        stack_file = stack_file.replace(dev, staging)
    # Its secrets in SSM, so its parameters' paths are checked too.
    stack_file += "  orchestra:secretStore: ssm\n"
    if guarded:
        stack_file = stack_file.replace("  orchestra:protectStatefulResources: false\n", "")
        project_file = project / "Pulumi.yaml"
        project_file.write_text(project_file.read_text().replace("default: [prod]", "default: [prod, staging]"))
    (project / "Pulumi.staging.yaml").write_text(stack_file)
    (project / "instances" / "acme-staging.yaml").write_text(STAGING_INSTANCE)
    # Its CI access: the bootstrap stack of the same name, sharing dev's account and OIDC provider.
    (project / "bootstrap" / "Pulumi.staging.yaml").write_text((project / "bootstrap" / "Pulumi.dev.yaml").read_text())

    delivery_file = project / "delivery.yaml"
    delivery = yaml.safe_load(delivery_file.read_text())
    [orchestra] = [r for r in delivery["repositories"] if r["name"] == delivery["deploying_repository"]]
    reviewers = {"reviewers": {"users": ["example-admin"]}, "prevent_self_review": False} if guarded else {}
    orchestra["environments"] += [
        {"name": "staging", **reviewers},
        {"name": "staging-plan"},
        {"name": "staging-tenants"},
    ]
    delivery["stacks"]["staging"] = {}
    delivery_file.write_text(yaml.safe_dump(delivery, sort_keys=False))
    return project


@pytest.fixture(scope="module", params=[False, True], ids=["unguarded", "guarded"])
def staging(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bool]:
    return add_staging(tmp_path_factory.mktemp("staging") / "orchestra", guarded=request.param), request.param


@pytest.fixture(scope="module")
def plans(staging: tuple[Path, bool]) -> dict[str, Plan]:
    project, _ = staging
    plans = {stack: evaluate_project(project, stack) for stack in ("staging", "prod")}
    # Its tenant is a stack of the tenant project, reading the staging platform stack.
    tenant = evaluate_project(
        project / "tenants",
        "acme-staging",
        {"organization/orchestra/staging": referenced_stack(plans["staging"])},
        secret_environment=[API_TOKEN_VARIABLE],
    )
    return plans | {"bootstrap": evaluate_project(project / "bootstrap", "staging"), "acme-staging": tenant}


def test_the_stack_list_is_the_stack_files(staging: tuple[Path, bool]) -> None:
    project, _ = staging
    assert stack_names(project) == ["dev", "prod", "staging"]


def test_its_plan_is_named_like_every_stack(staging: tuple[Path, bool], plans: dict[str, Plan]) -> None:
    project, _ = staging
    plan = plans["staging"]
    assert (
        plan.one("aws:dynamodb/table:Table", "orchestrator-runs").inputs["name"]
        == "orchestra-orchestrator-runs-staging"
    )
    assert [r.inputs["name"] for r in plan.of_type("aws:ssm/parameter:Parameter")]
    assert plan.of_type("orchestra:system:TenantInstance") == []
    assert_children_are_named_from_their_parents(plan)
    assert_physical_names_end_with_the_stack(plan, set())
    tenant = plans["acme-staging"]
    assert tenant.one("orchestra:system:TenantInstance", "tenants-acme-staging")
    assert_children_are_named_from_their_parents(tenant)
    assert_physical_names_end_with_the_stack(tenant, public_names("acme-staging", project), stack="staging")


def test_its_tenants_data_is_guarded_only_if_the_stack_is(staging: tuple[Path, bool], plans: dict[str, Plan]) -> None:
    _, guarded = staging
    stateful = [r for r in plans["acme-staging"].resources if r.type in STATEFUL_TYPES]
    assert stateful and {(r.protect, r.retain_on_delete) for r in stateful} == {(guarded, guarded)}


def test_its_data_and_policy_are_guarded_only_if_listed(staging: tuple[Path, bool], plans: dict[str, Plan]) -> None:
    project, guarded = staging
    plan = plans["staging"]
    stateful = [r for r in plan.resources if r.type in STATEFUL_TYPES]
    assert stateful and {(r.protect, r.retain_on_delete) for r in stateful} == {(guarded, guarded)}
    config = compose_config(load_project(project), project, "staging")
    assert check_policies(plan, config) == []
    # The same resources, unprotected: the pack refuses them exactly when the stack is guarded.
    unprotected = dataclasses.replace(
        plan,
        resources=tuple(
            dataclasses.replace(r, protect=r.protect and r.type not in STATEFUL_TYPES) for r in plan.resources
        ),
    )
    refused = {v.policy for v in check_policies(unprotected, config) if v.mandatory}
    assert refused == ({"stateful-resources-protected-in-prod"} if guarded else set())


def iam_match(pattern: str, arn: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part).replace(r"\?", ".") for part in pattern.split("*")), arn) is not None


def test_its_roles_are_trusted_from_its_environments_and_reach_its_resources(
    staging: tuple[Path, bool], plans: dict[str, Plan]
) -> None:
    _, guarded = staging
    bootstrap = plans["bootstrap"]
    subjects = {}
    for kind in ("deploy", "read"):
        role = bootstrap.one("aws:iam/role:Role", f"ci-{kind}-role")
        [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        subjects[kind] = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert subjects == {
        "deploy": [
            "repo:example-org/orchestra:environment:staging",
            "repo:example-org/orchestra:environment:staging-tenants",
        ],
        "read": ["repo:example-org/orchestra:environment:staging-plan"],
    }
    # The prod stack, which manages GitHub, points each staging environment at its role.
    prod = plans["prod"]
    variables = {
        r.inputs["environment"]: r.inputs["value"]
        for r in prod.of_type("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
    }
    names = {kind: bootstrap.one("aws:iam/role:Role", f"ci-{kind}-role").inputs["name"] for kind in ("deploy", "read")}
    assert variables["staging"].endswith(f"/{names['deploy']}")
    assert variables["staging-plan"].endswith(f"/{names['read']}")
    assert variables["staging-tenants"].endswith(f"/{names['deploy']}")

    statements = json.loads(bootstrap.one("aws:iam/rolePolicy:RolePolicy", "ci-deploy-role-policy").inputs["policy"])
    patterns = {
        resource
        for statement in statements["Statement"]
        if statement["Effect"] == "Allow" and "lambda:UpdateFunctionCode" in statement["Action"]
        for resource in statement["Resource"]
    }
    assert patterns
    functions = {
        stack: {
            f"arn:aws:lambda:us-east-1:123456789012:function:{r.inputs['name']}"
            for r in plans[stack].of_type("aws:lambda/function:Function")
        }
        for stack in ("staging", "prod")
    }
    assert all(any(iam_match(p, arn) for p in patterns) for arn in functions["staging"])
    assert not any(iam_match(p, arn) for p in patterns for arn in functions["prod"])

    environments = {
        (r.inputs["repository"], r.inputs["environment"]): r.inputs
        for r in prod.of_type("github:index/repositoryEnvironment:RepositoryEnvironment")
    }
    assert ("reviewers" in environments[("orchestra", "staging")]) is guarded
