"""Delivery as the shipped stacks declare it: prod manages GitHub from `delivery.yaml`, dev nothing."""

import re
from pathlib import Path

import pytest
import yaml

from stack_config.stacks import deploy_environment, plan_environment, stack_names, tenants_environment
from tools.offline_plan import SECRET, Plan, PlannedResource, evaluate_project
from tools.offline_plan.mock_outputs import github_id

ROOT = Path(__file__).resolve().parents[3]
SECRET_TYPES = (
    "github:index/actionsSecret:ActionsSecret",
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
)


@pytest.fixture(scope="module")
def prod() -> Plan:
    return evaluate_project(ROOT, "prod")


@pytest.fixture(scope="module")
def dev() -> Plan:
    return evaluate_project(ROOT, "dev")


def secret(plan: Plan, repository: str, name: str) -> PlannedResource:
    [found] = [
        r
        for type_ in SECRET_TYPES
        for r in plan.of_type(type_)
        if (r.inputs["repository"], r.inputs["secretName"]) == (repository, name)
    ]
    return found


def dependency_names(resource: PlannedResource) -> set[str]:
    return {urn.rsplit("::", 1)[1] for urn in resource.dependencies}


def test_dev_manages_no_github_and_creates_no_token(dev: Plan) -> None:
    assert [r.type for r in dev.resources if r.type.startswith("github:") or "Delivery" in r.type] == []
    assert dev.of_type("cloudflare:index/accountToken:AccountToken") == []
    assert "awsRoleArns" not in dev.outputs


def test_every_secret_value_is_a_secret(prod: Plan) -> None:
    secrets = [r for type_ in SECRET_TYPES for r in prod.of_type(type_)]
    assert {(r.inputs["repository"], r.inputs["secretName"]) for r in secrets} == {
        ("multiagent-workers", "CLOUDFLARE_API_TOKEN"),
        ("multiagent-workers", "IDEOGRAM_API_KEY"),
    }
    assert all(r.inputs["value"] == SECRET for r in secrets)
    assert prod.unmarked_secrets == ()


def test_a_tenants_key_is_left_to_that_tenants_stack(prod: Plan) -> None:
    # delivery.yaml fills TEST_API_KEY with tenant-api-key/acme/ci: acme's own stack sets it
    # (tests/systems/tenants/test_tenant_stack.py), and removing acme removes it with the stack.
    assert not any(r.inputs.get("secretName") == "TEST_API_KEY" for t in SECRET_TYPES for r in prod.of_type(t))


def test_secrets_come_from_the_systems_that_own_them(prod: Plan) -> None:
    assert "workers-deploy" in dependency_names(secret(prod, "multiagent-workers", "CLOUDFLARE_API_TOKEN"))
    token = prod.one("cloudflare:index/accountToken:AccountToken", "workers-deploy")
    [policy] = token.inputs["policies"]
    assert len(policy["permissionGroups"]) == 6


def test_variables_are_values_of_the_stack(prod: Plan) -> None:
    variables = {
        (r.inputs["repository"], r.inputs["variableName"]): r.inputs["value"]
        for r in prod.of_type("github:index/actionsVariable:ActionsVariable")
    }
    assert variables == {
        ("multiagent-workers", "CLOUDFLARE_ACCOUNT_ID"): "0123456789abcdef0123456789abcde2",
        ("multiagent-workers", "TENANT_REGISTRY_DATABASE"): prod.outputs["tenantRegistryDatabase"],
    }
    roles = {
        r.inputs["environment"]: r.inputs["value"]
        for r in prod.of_type("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
        if r.inputs["variableName"] == "AWS_ROLE_ARN"
    }
    arns = prod.outputs["awsRoleArns"]
    assert roles == {
        "preview": arns["dev-read"],
        "dev": arns["dev-deploy"],
        "dev-plan": arns["dev-read"],
        "dev-tenants": arns["dev-deploy"],
        "prod": arns["prod-deploy"],
        "prod-plan": arns["prod-read"],
        "prod-tenants": arns["prod-deploy"],
    }


def test_the_webhook_comes_from_the_orchestrator(prod: Plan) -> None:
    [webhook] = prod.of_type("github:index/repositoryWebhook:RepositoryWebhook")
    assert webhook.inputs["repository"] == "multiagent-workers"
    assert webhook.inputs["configuration"]["url"] == prod.outputs["githubWebhookUrl"]
    assert webhook.inputs["configuration"]["secret"] == SECRET
    assert "orchestrator-generated-webhook-secret" in dependency_names(webhook)


def test_production_requires_approval_and_only_the_default_branch(prod: Plan) -> None:
    environments = {
        (r.inputs["repository"], r.inputs["environment"]): r.inputs
        for r in prod.of_type("github:index/repositoryEnvironment:RepositoryEnvironment")
    }
    branches = {
        (r.inputs["repository"], r.inputs["environment"]): r.inputs["branchPattern"]
        for r in prod.of_type(
            "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
        )
    }
    reviewed = [{"teams": [], "users": [github_id("user", "example-admin")]}]
    for key in [("orchestra", "prod"), ("orchestra", "preview"), ("multiagent-workers", "production")]:
        assert environments[key]["reviewers"] == reviewed
        # A team of one: the one reviewer approves their own runs, by an explicit setting.
        assert environments[key]["preventSelfReview"] is False
    assert branches == dict.fromkeys(set(environments) - {("orchestra", "preview")}, "main")
    assert all(environment["canAdminsBypass"] is False for environment in environments.values())


def test_the_shipped_environments_are_the_stacks_and_the_ones_the_workflows_name() -> None:
    """delivery.yaml lists each stack's three environments, and every environment a workflow names."""
    delivery = yaml.safe_load((ROOT / "delivery.yaml").read_text())
    [orchestra] = [r for r in delivery["repositories"] if r["name"] == delivery["deploying_repository"]]
    declared = {environment["name"] for environment in orchestra["environments"]}
    stacks = {
        name
        for stack in stack_names(ROOT)
        for name in (deploy_environment(stack), plan_environment(stack), tenants_environment(stack))
    }
    assert stacks <= declared
    workflows = "\n".join(path.read_text() for path in (ROOT / ".github" / "workflows").glob("*.yml"))
    used = set(re.findall(r"^\s+environment: ([\w-]+)\s*$", workflows, re.MULTILINE))
    used |= set(re.findall(r"^\s+(?:deploy|plan)-environment: ([\w-]+)\s*$", workflows, re.MULTILINE))
    assert used <= declared, used - declared
    assert declared - used - stacks <= {delivery["preview_environment"]}


def test_the_ruleset_requires_the_approval_of_the_last_push(prod: Plan) -> None:
    for ruleset in prod.of_type("github:index/repositoryRuleset:RepositoryRuleset"):
        assert ruleset.inputs["rules"]["pullRequest"]["requireLastPushApproval"] is True
