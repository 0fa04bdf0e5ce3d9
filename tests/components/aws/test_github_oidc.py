import json
from typing import Any

import pulumi
import pytest

from components.aws.github_oidc import (
    DeploymentAccess,
    GitHubActionsRole,
    GitHubActionsRoleArgs,
    GitHubOidc,
    GitHubOidcArgs,
)
from components.aws.link import PolicyStatement
from tools.offline_plan import Plan, evaluate

from .policies import grants, statements_of

PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
SERVICES = ("apigateway", "cloudwatch", "dynamodb", "iam", "lambda", "logs", "secretsmanager", "sns", "ssm")
REGION_ACCOUNT = "us-east-1:123456789012"
# Every resource a deployment grant may name: under the prefix, or one of the documented exceptions.
PREFIXED = (
    f"arn:aws:lambda:{REGION_ACCOUNT}:function:orchestra-*",
    "arn:aws:iam::123456789012:role/orchestra-*",
    f"arn:aws:dynamodb:{REGION_ACCOUNT}:table/orchestra-*",
    f"arn:aws:logs:{REGION_ACCOUNT}:log-group:/aws/lambda/orchestra-*",
    f"arn:aws:logs:{REGION_ACCOUNT}:log-group:/aws/apigateway/orchestra-*",
    f"arn:aws:cloudwatch:{REGION_ACCOUNT}:alarm:orchestra-*",
    "arn:aws:cloudwatch::123456789012:dashboard/orchestra-*",
    f"arn:aws:sns:{REGION_ACCOUNT}:orchestra-*",
    f"arn:aws:secretsmanager:{REGION_ACCOUNT}:secret:orchestra-*",
    f"arn:aws:ssm:{REGION_ACCOUNT}:parameter/orchestra/*",
    PROVIDER_ARN,
)
EXCEPTIONS = {
    "arn:aws:apigateway:us-east-1::/apis",
    "arn:aws:apigateway:us-east-1::/apis/*",
    "arn:aws:apigateway:us-east-1::/tags/*",
}
STAR_ACTIONS_WHEN_DEPLOYING = {
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
    "sns:Unsubscribe",
    "ssm:DescribeParameters",
}


def access(write: bool, **extra: Any) -> DeploymentAccess:
    return DeploymentAccess(name_prefix="orchestra", services=SERVICES, write=write, **extra)


def plan_role(args: GitHubActionsRoleArgs, stack: str = "prod") -> Plan:
    return evaluate(lambda: GitHubActionsRole("delivery-deploy-role", args), stack=stack)


def trust_of(plan: Plan, name: str = "delivery-deploy-role") -> dict[str, Any]:
    return json.loads(plan.one("aws:iam/role:Role", name).inputs["assumeRolePolicy"])


def test_provider_for_github_actions_without_thumbprints() -> None:
    plan = evaluate(lambda: GitHubOidc("delivery-oidc", GitHubOidcArgs()))
    component = plan.one("orchestra:aws:GitHubOidc", "delivery-oidc")
    (provider,) = plan.children_of(component.urn)
    assert provider.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
    assert provider.inputs == {
        "url": "https://token.actions.githubusercontent.com",
        "clientIdLists": ["sts.amazonaws.com"],
    }


def test_an_existing_provider_is_used_by_its_arn() -> None:
    def program() -> None:
        pulumi.export("arn", GitHubOidc("delivery-oidc", GitHubOidcArgs(create_provider=False)).arn)

    plan = evaluate(program)
    assert plan.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    assert plan.outputs["arn"] == PROVIDER_ARN


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_trust_is_this_repository_and_these_subjects_exactly(stack: str) -> None:
    subjects = ["environment:production", "ref:refs/heads/main"]
    plan = plan_role(
        GitHubActionsRoleArgs(PROVIDER_ARN, "acme/orchestra", subjects, deployment=access(write=True)), stack
    )
    component = plan.one("orchestra:aws:GitHubActionsRole", "delivery-deploy-role")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("aws:iam/role:Role", "delivery-deploy-role"),
        ("aws:iam/rolePolicy:RolePolicy", "delivery-deploy-role-policy"),
    ]
    role = plan.one("aws:iam/role:Role", "delivery-deploy-role").inputs
    assert role["name"] == f"orchestra-delivery-deploy-role-{stack}"
    assert role["maxSessionDuration"] == 3600
    assert trust_of(plan) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"Federated": PROVIDER_ARN},
                "Condition": {
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": [
                            "repo:acme/orchestra:environment:production",
                            "repo:acme/orchestra:ref:refs/heads/main",
                        ],
                    }
                },
            }
        ],
    }


@pytest.mark.parametrize(
    ("repository", "subjects"),
    [
        ("acme/orchestra", ["ref:refs/heads/*"]),
        ("acme/orchestra", ["environment:prod?"]),
        ("acme/orchestra", ["*"]),
        ("acme/orchestra", ["workflow:deploy"]),
        ("acme/orchestra", []),
        ("acme/orchestra", ["pull_request", "pull_request"]),
        ("acme/*", ["pull_request"]),
        ("orchestra", ["pull_request"]),
    ],
)
def test_wildcards_and_malformed_subjects_are_refused(repository: str, subjects: list[str]) -> None:
    with pytest.raises(ValueError, match="delivery-deploy-role"):
        plan_role(GitHubActionsRoleArgs(PROVIDER_ARN, repository, subjects, deployment=access(write=False)))


def test_a_role_must_grant_something() -> None:
    with pytest.raises(ValueError, match="grants nothing"):
        plan_role(GitHubActionsRoleArgs(PROVIDER_ARN, "acme/orchestra", ["pull_request"]))


def test_deploy_policy_names_every_action_and_scopes_resources_to_the_prefix() -> None:
    plan = plan_role(
        GitHubActionsRoleArgs(
            PROVIDER_ARN,
            "acme/orchestra",
            ["ref:refs/heads/main"],
            deployment=access(True, oidc_provider_arn=PROVIDER_ARN),
        )
    )
    statements = statements_of(plan, "delivery-deploy-role-policy")
    granted = grants(statements)
    assert all("*" not in action for action in granted)
    for action, resources in granted.items():
        if resources == {"*"}:
            assert action in STAR_ACTIONS_WHEN_DEPLOYING
        else:
            assert resources <= set(PREFIXED) | EXCEPTIONS, action
    assert {action for action, resources in granted.items() if resources == {"*"}} == STAR_ACTIONS_WHEN_DEPLOYING
    # The calls a deployment of the orchestrator's blocks makes, by service.
    for action in (
        "lambda:CreateFunction",
        "iam:PassRole",
        "iam:PutRolePolicy",
        "apigateway:POST",
        "dynamodb:CreateTable",
        "logs:PutRetentionPolicy",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:PutDashboard",
        "sns:Subscribe",
        "secretsmanager:PutSecretValue",
        "ssm:PutParameter",
        "iam:CreateOpenIDConnectProvider",
    ):
        assert action in granted, action
    assert granted["iam:CreateOpenIDConnectProvider"] == {PROVIDER_ARN}
    # Managed policies could be AdministratorAccess: only inline policies may be written.
    assert "iam:AttachRolePolicy" not in granted
    # IAM's limit on a role's inline policies, whitespace excluded.
    policy = plan.one("aws:iam/rolePolicy:RolePolicy", "delivery-deploy-role-policy").inputs["policy"]
    assert len(json.dumps(json.loads(policy), separators=(",", ":"))) < 10_240


def test_preview_policy_reads_and_never_reads_a_secret_value() -> None:
    plan = plan_role(GitHubActionsRoleArgs(PROVIDER_ARN, "acme/orchestra", ["pull_request"], deployment=access(False)))
    granted = grants(statements_of(plan, "delivery-deploy-role-policy"))
    verbs = ("Get", "List", "Describe")
    assert all(action.split(":")[1].startswith(verbs) or action == "apigateway:GET" for action in granted), granted
    assert "secretsmanager:GetSecretValue" not in granted
    assert "ssm:GetParameter" not in granted
    assert "ssm:GetParameters" not in granted
    assert {action for action, resources in granted.items() if resources == {"*"}} == {
        "logs:DescribeLogGroups",
        "sns:GetSubscriptionAttributes",
        "ssm:DescribeParameters",
    }


def test_state_backend_access_lets_a_preview_write_only_locks() -> None:
    extra = {"state_bucket": "acme-pulumi-state", "state_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k"}
    deploy = grants(
        statements_of(
            plan_role(
                GitHubActionsRoleArgs(PROVIDER_ARN, "acme/o", ["ref:refs/heads/main"], deployment=access(True, **extra))
            ),
            "delivery-deploy-role-policy",
        )
    )
    preview = grants(
        statements_of(
            plan_role(
                GitHubActionsRoleArgs(PROVIDER_ARN, "acme/o", ["pull_request"], deployment=access(False, **extra))
            ),
            "delivery-deploy-role-policy",
        )
    )
    bucket = "arn:aws:s3:::acme-pulumi-state"
    assert deploy["s3:PutObject"] == deploy["s3:GetObject"] == {f"{bucket}/*"}
    assert preview["s3:GetObject"] == {f"{bucket}/*"}
    assert preview["s3:PutObject"] == preview["s3:DeleteObject"] == {f"{bucket}/*.pulumi/locks/*"}
    assert deploy["s3:ListBucket"] == preview["s3:ListBucket"] == {bucket}
    assert {a for a in deploy if a.startswith("kms:")} == {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
    assert {a for a in preview if a.startswith("kms:")} == {"kms:Decrypt"}


def test_explicit_statements_and_managed_policies() -> None:
    managed = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    statement = PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::site/*"])
    plan = plan_role(
        GitHubActionsRoleArgs(
            PROVIDER_ARN, "acme/site", ["pull_request"], statements=[statement], managed_policy_arns=[managed]
        )
    )
    assert grants(statements_of(plan, "delivery-deploy-role-policy")) == {"s3:GetObject": {"arn:aws:s3:::site/*"}}
    attachment = plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "delivery-deploy-role-managed-0")
    assert attachment.inputs == {"policyArn": managed, "role": "orchestra-delivery-deploy-role-prod"}
