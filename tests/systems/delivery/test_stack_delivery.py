"""Delivery as the shipped stacks declare it: prod manages GitHub from `delivery.yaml`, dev nothing."""

import json
from pathlib import Path

import pytest

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


def test_dev_manages_no_github_and_creates_no_token() -> None:
    dev = evaluate_project(ROOT, "dev")
    assert [r.type for r in dev.resources if r.type.startswith("github:") or "Delivery" in r.type] == []
    assert dev.of_type("cloudflare:index/accountToken:AccountToken") == []
    assert "awsDeployRoleArn" not in dev.outputs


def test_every_secret_value_is_a_secret(prod: Plan) -> None:
    secrets = [r for type_ in SECRET_TYPES for r in prod.of_type(type_)]
    assert {(r.inputs["repository"], r.inputs["secretName"]) for r in secrets} == {
        ("multiagent-workers", "CLOUDFLARE_API_TOKEN"),
        ("multiagent-workers", "TEST_API_KEY"),
        ("multiagent-workers", "IDEOGRAM_API_KEY"),
    }
    assert all(r.inputs["value"] == SECRET for r in secrets)
    assert prod.unmarked_secrets == ()


def test_secrets_come_from_the_systems_that_own_them(prod: Plan) -> None:
    assert "workers-deploy" in dependency_names(secret(prod, "multiagent-workers", "CLOUDFLARE_API_TOKEN"))
    assert "acme-api-key-ci" in dependency_names(secret(prod, "multiagent-workers", "TEST_API_KEY"))
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
        ("orchestra", "AWS_DEPLOY_ROLE_ARN"): prod.outputs["awsDeployRoleArn"],
        ("orchestra", "AWS_PREVIEW_ROLE_ARN"): prod.outputs["awsPreviewRoleArn"],
    }


def test_the_webhook_comes_from_the_orchestrator(prod: Plan) -> None:
    [webhook] = prod.of_type("github:index/repositoryWebhook:RepositoryWebhook")
    assert webhook.inputs["repository"] == "multiagent-workers"
    assert webhook.inputs["configuration"]["url"] == prod.outputs["githubWebhookUrl"]
    assert webhook.inputs["configuration"]["secret"] == SECRET
    assert "orchestrator-generated-webhook-secret" in dependency_names(webhook)


def test_oidc_trust_is_limited_to_this_repository(prod: Plan) -> None:
    subjects = {}
    for role in ("deploy", "preview"):
        policy = json.loads(prod.one("aws:iam/role:Role", f"delivery-{role}-role").inputs["assumeRolePolicy"])
        [statement] = policy["Statement"]
        subjects[role] = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert subjects == {
        "deploy": [
            "repo:example-org/orchestra:environment:production",
            "repo:example-org/orchestra:ref:refs/heads/main",
        ],
        "preview": ["repo:example-org/orchestra:pull_request"],
    }


def test_production_requires_approval_on_protected_branches(prod: Plan) -> None:
    environments = prod.of_type("github:index/repositoryEnvironment:RepositoryEnvironment")
    assert {r.inputs["repository"] for r in environments} == {"orchestra", "multiagent-workers"}
    for environment in environments:
        assert environment.inputs["environment"] == "production"
        assert environment.inputs["reviewers"] == [{"teams": [], "users": [github_id("user", "example-admin")]}]
        assert environment.inputs["deploymentBranchPolicy"]["protectedBranches"] is True
        assert environment.inputs["canAdminsBypass"] is False
