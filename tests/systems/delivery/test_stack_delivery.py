"""Delivery as the shipped stacks declare it: prod manages GitHub from `delivery.yaml`, dev nothing."""

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.components.aws.policies import grants, statements_of
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
        "production": arns["prod-deploy"],
        "production-plan": arns["prod-read"],
    }


def test_the_webhook_comes_from_the_orchestrator(prod: Plan) -> None:
    [webhook] = prod.of_type("github:index/repositoryWebhook:RepositoryWebhook")
    assert webhook.inputs["repository"] == "multiagent-workers"
    assert webhook.inputs["configuration"]["url"] == prod.outputs["githubWebhookUrl"]
    assert webhook.inputs["configuration"]["secret"] == SECRET
    assert "orchestrator-generated-webhook-secret" in dependency_names(webhook)


def test_oidc_trust_is_limited_to_this_repository_and_its_environments(prod: Plan) -> None:
    subjects = {}
    for role in prod.of_type("aws:iam/role:Role"):
        if role.inputs.get("path") == "/github-actions/":
            [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
            subjects[role.name] = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert subjects == {
        "delivery-dev-deploy-role": ["repo:example-org/orchestra:environment:dev"],
        "delivery-dev-read-role": [
            "repo:example-org/orchestra:environment:dev-plan",
            "repo:example-org/orchestra:environment:preview",
        ],
        "delivery-prod-deploy-role": ["repo:example-org/orchestra:environment:production"],
        "delivery-prod-read-role": ["repo:example-org/orchestra:environment:production-plan"],
    }


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
    for key in [("orchestra", "production"), ("orchestra", "preview"), ("multiagent-workers", "production")]:
        assert environments[key]["reviewers"] == reviewed
        # A team of one: the one reviewer approves their own runs, by an explicit setting.
        assert environments[key]["preventSelfReview"] is False
    assert branches == dict.fromkeys(set(environments) - {("orchestra", "preview")}, "main")
    assert all(environment["canAdminsBypass"] is False for environment in environments.values())


# --- Each stack's roles reach that stack's resources and nothing of the other's ---------------

ACCOUNT_REGION = "123456789012", "us-east-1"


def arns_of(plan: Plan) -> dict[str, str]:
    """Every AWS resource of the plan that IAM authorises by name, to its ARN."""
    account, region = ACCOUNT_REGION
    regional = f"{region}:{account}"
    forms = {
        "aws:lambda/function:Function": lambda n: f"arn:aws:lambda:{regional}:function:{n}",
        "aws:iam/role:Role": lambda n: f"arn:aws:iam::{account}:role/{n}",
        "aws:dynamodb/table:Table": lambda n: f"arn:aws:dynamodb:{regional}:table/{n}",
        "aws:cloudwatch/logGroup:LogGroup": lambda n: f"arn:aws:logs:{regional}:log-group:{n}",
        "aws:cloudwatch/metricAlarm:MetricAlarm": lambda n: f"arn:aws:cloudwatch:{regional}:alarm:{n}",
        "aws:cloudwatch/dashboard:Dashboard": lambda n: f"arn:aws:cloudwatch::{account}:dashboard/{n}",
        "aws:sns/topic:Topic": lambda n: f"arn:aws:sns:{regional}:{n}",
        # Secrets Manager appends six random characters.
        "aws:secretsmanager/secret:Secret": lambda n: f"arn:aws:secretsmanager:{regional}:secret:{n}-AbC123",
        "aws:ssm/parameter:Parameter": lambda n: f"arn:aws:ssm:{regional}:parameter{n}",
    }
    found = {}
    for resource in plan.resources:
        name = resource.inputs.get("dashboardName", resource.inputs.get("name"))
        if resource.type in forms and resource.inputs.get("path") != "/github-actions/":
            found[resource.name] = forms[resource.type](name)
    return found


def iam_match(pattern: str, arn: str) -> bool:
    """IAM's ARN wildcards: `*` any run of characters (`/` and `:` included), `?` one character."""
    return (
        re.fullmatch(".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*")), arn)
        is not None
    )


def reachable(prod: Plan, role: str, action: str, arns: dict[str, str]) -> set[str]:
    patterns = grants(statements_of(prod, f"delivery-{role}-role-policy")).get(action, set())
    return {name for name, arn in arns.items() if any(iam_match(pattern, arn) for pattern in patterns)}


@pytest.mark.parametrize("kind", ["deploy", "read"])
def test_a_stacks_roles_reach_all_of_its_resources_and_none_of_the_others(prod: Plan, dev: Plan, kind: str) -> None:
    """Checked on the names the stacks really declare, so a name outside the pattern fails here."""
    stacks = {"dev": arns_of(dev), "prod": arns_of(prod)}
    assert all(len(arns) >= 10 for arns in stacks.values())
    delivery_roles = {r.name for r in prod.of_type("aws:iam/role:Role") if r.inputs.get("path") == "/github-actions/"}
    # The read calls every role has, and the write calls of the deploy roles, per kind of resource.
    actions = {
        "lambda:GetFunction": "aws:lambda/function:Function",
        "iam:GetRole": "aws:iam/role:Role",
        "dynamodb:DescribeTable": "aws:dynamodb/table:Table",
        "logs:ListTagsForResource": "aws:cloudwatch/logGroup:LogGroup",
        "cloudwatch:DescribeAlarms": "aws:cloudwatch/metricAlarm:MetricAlarm",
        "cloudwatch:GetDashboard": "aws:cloudwatch/dashboard:Dashboard",
        "sns:GetTopicAttributes": "aws:sns/topic:Topic",
        "secretsmanager:DescribeSecret": "aws:secretsmanager/secret:Secret",
        # Refreshing a SecretVersion reads the value: the read roles' drift checks need it.
        "secretsmanager:GetSecretValue": "aws:secretsmanager/secret:Secret",
    }
    if kind == "deploy":
        actions |= {
            "lambda:UpdateFunctionCode": "aws:lambda/function:Function",
            "iam:PutRolePolicy": "aws:iam/role:Role",
            "iam:PassRole": "aws:iam/role:Role",
            "dynamodb:UpdateTable": "aws:dynamodb/table:Table",
            "logs:PutRetentionPolicy": "aws:cloudwatch/logGroup:LogGroup",
            "cloudwatch:PutMetricAlarm": "aws:cloudwatch/metricAlarm:MetricAlarm",
            "cloudwatch:PutDashboard": "aws:cloudwatch/dashboard:Dashboard",
            "sns:SetTopicAttributes": "aws:sns/topic:Topic",
            "secretsmanager:PutSecretValue": "aws:secretsmanager/secret:Secret",
        }
    for stack, other in (("dev", "prod"), ("prod", "dev")):
        plan = {"dev": dev, "prod": prod}[stack]
        for action, type_ in actions.items():
            own = {r.name for r in plan.of_type(type_) if r.name in stacks[stack]}
            assert own, (stack, type_)
            assert reachable(prod, f"{stack}-{kind}", action, stacks[stack]) == own, (stack, action)
            assert reachable(prod, f"{stack}-{kind}", action, stacks[other]) == set(), (stack, action, other)
        # No role reaches a CI role by these patterns, its own included.
        ci_arns = {name: f"arn:aws:iam::123456789012:role/orchestra-{name}-prod" for name in delivery_roles}
        ci_arns |= {
            name: f"arn:aws:iam::123456789012:role/github-actions/orchestra-{name}-prod" for name in delivery_roles
        }
        for action in ("iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole", "iam:DeleteRole"):
            assert reachable(prod, f"{stack}-{kind}", action, ci_arns) == set(), (stack, action)


def test_the_shipped_environments_are_the_ones_the_workflows_use() -> None:
    """delivery.yaml names the environments; the workflows must use exactly those."""
    delivery = yaml.safe_load((ROOT / "delivery.yaml").read_text())
    [orchestra] = [r for r in delivery["repositories"] if r["name"] == delivery["deploying_repository"]]
    declared = {environment["name"] for environment in orchestra["environments"]}
    workflows = "\n".join(path.read_text() for path in (ROOT / ".github" / "workflows").glob("*.yml"))
    used = set(re.findall(r"^\s+environment: ([\w-]+)\s*$", workflows, re.MULTILINE))
    used |= set(re.findall(r"^\s+(?:deploy|plan)-environment: ([\w-]+)\s*$", workflows, re.MULTILINE))
    assert used == declared


def test_the_ruleset_requires_the_approval_of_the_last_push(prod: Plan) -> None:
    for ruleset in prod.of_type("github:index/repositoryRuleset:RepositoryRuleset"):
        assert ruleset.inputs["rules"]["pullRequest"]["requireLastPushApproval"] is True
