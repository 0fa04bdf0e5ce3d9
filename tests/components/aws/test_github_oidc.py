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
    GitHubRepository,
)
from components.aws.link import PolicyStatement
from tools.offline_plan import Plan, evaluate

from .policies import grants, statements_of

PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
SERVICES = ("apigateway", "cloudwatch", "dynamodb", "iam", "lambda", "logs", "secretsmanager", "sns", "ssm")
REGION_ACCOUNT = "us-east-1:123456789012"
REPOSITORY = GitHubRepository("acme", "orchestra")
# Every resource a deployment grant of the prod stack may name: that stack's names, or one of the
# documented exceptions.
PROD_NAMES = {
    f"arn:aws:lambda:{REGION_ACCOUNT}:function:orchestra-*-prod",
    f"arn:aws:lambda:{REGION_ACCOUNT}:function:orchestra-*-prod:*",
    "arn:aws:iam::123456789012:role/orchestra-*-prod",
    f"arn:aws:dynamodb:{REGION_ACCOUNT}:table/orchestra-*-prod",
    f"arn:aws:logs:{REGION_ACCOUNT}:log-group:/aws/lambda/orchestra-*-prod",
    f"arn:aws:logs:{REGION_ACCOUNT}:log-group:/aws/lambda/orchestra-*-prod:*",
    f"arn:aws:logs:{REGION_ACCOUNT}:log-group:/aws/apigateway/orchestra-*-prod",
    f"arn:aws:logs:{REGION_ACCOUNT}:log-group:/aws/apigateway/orchestra-*-prod:*",
    f"arn:aws:cloudwatch:{REGION_ACCOUNT}:alarm:orchestra-*-prod",
    "arn:aws:cloudwatch::123456789012:dashboard/orchestra-*-prod",
    f"arn:aws:sns:{REGION_ACCOUNT}:orchestra-*-prod",
    f"arn:aws:secretsmanager:{REGION_ACCOUNT}:secret:orchestra-*-prod-??????",
    f"arn:aws:ssm:{REGION_ACCOUNT}:parameter/orchestra/prod/*",
}
CI_READS = {PROVIDER_ARN, "arn:aws:iam::123456789012:role/github-actions/orchestra-*"}
EXCEPTIONS = {
    "arn:aws:apigateway:us-east-1::/apis",
    "arn:aws:apigateway:us-east-1::/apis/*",
    "arn:aws:apigateway:us-east-1::/tags/*",
}
STAR_ACTIONS_WHEN_DEPLOYING = {
    "logs:DescribeLogGroups",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
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


def access(write: bool, stacks: tuple[str, ...] = ("prod",), **extra: Any) -> DeploymentAccess:
    return DeploymentAccess(name_prefix="orchestra", stacks=stacks, services=SERVICES, write=write, **extra)


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


def statement_of_trust(subjects: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"Federated": PROVIDER_ARN},
                "Condition": {
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": subjects,
                    }
                },
            }
        ],
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_trust_is_this_repository_and_these_subjects_exactly(stack: str) -> None:
    plan = plan_role(
        GitHubActionsRoleArgs(PROVIDER_ARN, REPOSITORY, ["environment:production"], deployment=access(True)), stack
    )
    component = plan.one("orchestra:aws:GitHubActionsRole", "delivery-deploy-role")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("aws:iam/role:Role", "delivery-deploy-role"),
        ("aws:iam/rolePolicy:RolePolicy", "delivery-deploy-role-policy"),
    ]
    role = plan.one("aws:iam/role:Role", "delivery-deploy-role").inputs
    assert role["name"] == f"orchestra-delivery-deploy-role-{stack}"
    # Outside every `role/<prefix>-*-<stack>` a deployment may write.
    assert role["path"] == "/github-actions/"
    assert role["maxSessionDuration"] == 3600
    assert trust_of(plan) == statement_of_trust(["repo:acme/orchestra:environment:production"])


def test_trust_lists_the_id_embedded_subjects_when_the_repository_sends_them() -> None:
    repository = GitHubRepository("acme", "orchestra", owner_id=123, repository_id=456)
    plan = plan_role(
        GitHubActionsRoleArgs(PROVIDER_ARN, repository, ["environment:dev", "pull_request"], deployment=access(False))
    )
    assert trust_of(plan) == statement_of_trust(
        ["repo:acme@123/orchestra@456:environment:dev", "repo:acme@123/orchestra@456:pull_request"]
    )


@pytest.mark.parametrize(
    ("repository", "subjects"),
    [
        (REPOSITORY, ["ref:refs/heads/*"]),
        (REPOSITORY, ["environment:prod?"]),
        (REPOSITORY, ["*"]),
        (REPOSITORY, ["workflow:deploy"]),
        (REPOSITORY, []),
        (REPOSITORY, ["pull_request", "pull_request"]),
        (GitHubRepository("acme", "*"), ["pull_request"]),
        (GitHubRepository("acme/x", "orchestra"), ["pull_request"]),
        (GitHubRepository("", "orchestra"), ["pull_request"]),
        (GitHubRepository("acme", "orchestra", owner_id=123), ["pull_request"]),
        (GitHubRepository("acme", "orchestra", repository_id=456), ["pull_request"]),
        (GitHubRepository("acme", "orchestra", owner_id=0, repository_id=456), ["pull_request"]),
    ],
)
def test_wildcards_and_malformed_subjects_are_refused(repository: GitHubRepository, subjects: list[str]) -> None:
    with pytest.raises(ValueError, match="delivery-deploy-role"):
        plan_role(GitHubActionsRoleArgs(PROVIDER_ARN, repository, subjects, deployment=access(write=False)))


def test_a_role_must_grant_something() -> None:
    with pytest.raises(ValueError, match="grants nothing"):
        plan_role(GitHubActionsRoleArgs(PROVIDER_ARN, REPOSITORY, ["pull_request"]))


@pytest.mark.parametrize("stacks", [(), ("prod", "prod"), ("prod*",), ("a b",)])
def test_stacks_must_be_distinct_names(stacks: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="stacks"):
        plan_role(GitHubActionsRoleArgs(PROVIDER_ARN, REPOSITORY, ["pull_request"], deployment=access(False, stacks)))


def test_deploy_policy_names_every_action_and_scopes_resources_to_the_stack() -> None:
    plan = plan_role(
        GitHubActionsRoleArgs(
            PROVIDER_ARN,
            REPOSITORY,
            ["environment:production"],
            deployment=access(True, oidc_provider_arn=PROVIDER_ARN, reads_ci_roles=True),
        )
    )
    statements = statements_of(plan, "delivery-deploy-role-policy")
    granted = grants(statements)
    assert all("*" not in action for action in granted)
    for action, resources in granted.items():
        if resources == {"*"}:
            assert action in STAR_ACTIONS_WHEN_DEPLOYING
        else:
            assert resources <= PROD_NAMES | EXCEPTIONS | CI_READS, action
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
        "secretsmanager:GetSecretValue",
        "ssm:PutParameter",
    ):
        assert action in granted, action
    # The OIDC provider and the CI roles are read, never written: no deploy role can widen its own trust.
    ci_actions = {action for action, resources in granted.items() if resources & CI_READS}
    assert ci_actions == {
        "iam:GetOpenIDConnectProvider",
        "iam:ListOpenIDConnectProviderTags",
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
    }
    assert not any(action.endswith("OpenIDConnectProvider") and "Get" not in action for action in granted)
    # Managed policies could be AdministratorAccess: only inline policies may be written.
    assert "iam:AttachRolePolicy" not in granted
    # IAM's limit on a role's inline policies, whitespace excluded.
    policy = plan.one("aws:iam/rolePolicy:RolePolicy", "delivery-deploy-role-policy").inputs["policy"]
    assert len(json.dumps(json.loads(policy), separators=(",", ":"))) < 10_240


def test_describe_log_groups_is_granted_on_the_only_resource_aws_accepts() -> None:
    for write in (True, False):
        plan = plan_role(GitHubActionsRoleArgs(PROVIDER_ARN, REPOSITORY, ["pull_request"], deployment=access(write)))
        assert grants(statements_of(plan, "delivery-deploy-role-policy"))["logs:DescribeLogGroups"] == {"*"}


def test_a_role_for_two_stacks_names_both_and_no_other() -> None:
    plan = plan_role(
        GitHubActionsRoleArgs(PROVIDER_ARN, REPOSITORY, ["environment:plan"], deployment=access(False, ("dev", "prod")))
    )
    granted = grants(statements_of(plan, "delivery-deploy-role-policy"))
    assert granted["dynamodb:DescribeTable"] == {
        f"arn:aws:dynamodb:{REGION_ACCOUNT}:table/orchestra-*-dev",
        f"arn:aws:dynamodb:{REGION_ACCOUNT}:table/orchestra-*-prod",
    }


def test_read_policy_reads_and_reads_secret_values_only_when_asked() -> None:
    def read_grants(**extra: Any) -> dict[str, set[str]]:
        plan = plan_role(
            GitHubActionsRoleArgs(PROVIDER_ARN, REPOSITORY, ["pull_request"], deployment=access(False, **extra))
        )
        return grants(statements_of(plan, "delivery-deploy-role-policy"))

    granted = read_grants()
    verbs = ("Get", "List", "Describe")
    assert all(action.split(":")[1].startswith(verbs) or action == "apigateway:GET" for action in granted), granted
    assert not {"secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters"} & set(granted)
    assert {action for action, resources in granted.items() if resources == {"*"}} == {
        "logs:DescribeLogGroups",
        "sns:GetSubscriptionAttributes",
        "ssm:DescribeParameters",
    }
    # What refreshing a SecretVersion or a SecureString parameter reads, on that stack's secrets only.
    with_values = read_grants(secret_values=True)
    assert set(with_values) - set(granted) == {"secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters"}
    assert with_values["secretsmanager:GetSecretValue"] == {
        f"arn:aws:secretsmanager:{REGION_ACCOUNT}:secret:orchestra-*-prod-??????"
    }
    assert with_values["ssm:GetParameter"] == {f"arn:aws:ssm:{REGION_ACCOUNT}:parameter/orchestra/prod/*"}


def test_state_backend_access_lets_a_reader_write_only_locks_and_decrypt_only_its_keys() -> None:
    dev_key, prod_key = (f"arn:aws:kms:us-east-1:123456789012:key/{stack}" for stack in ("dev", "prod"))

    def policy(write: bool, stacks: tuple[str, ...], keys: tuple[str, ...]) -> dict[str, set[str]]:
        extra = {"state_bucket": "acme-pulumi-state", "state_kms_key_arns": keys}
        plan = plan_role(
            GitHubActionsRoleArgs(PROVIDER_ARN, REPOSITORY, ["pull_request"], deployment=access(write, stacks, **extra))
        )
        return grants(statements_of(plan, "delivery-deploy-role-policy"))

    deploy = policy(True, ("prod",), (prod_key,))
    preview = policy(False, ("dev",), (dev_key,))
    bucket = "arn:aws:s3:::acme-pulumi-state"
    assert deploy["s3:PutObject"] == deploy["s3:GetObject"] == {f"{bucket}/*"}
    assert preview["s3:GetObject"] == {f"{bucket}/*"}
    assert preview["s3:PutObject"] == preview["s3:DeleteObject"] == {f"{bucket}/*.pulumi/locks/*"}
    assert deploy["s3:ListBucket"] == preview["s3:ListBucket"] == {bucket}
    assert {a: deploy[a] for a in deploy if a.startswith("kms:")} == {
        "kms:Decrypt": {prod_key},
        "kms:Encrypt": {prod_key},
        "kms:GenerateDataKey": {prod_key},
    }
    assert {a: preview[a] for a in preview if a.startswith("kms:")} == {"kms:Decrypt": {dev_key}}


def test_explicit_statements_and_managed_policies() -> None:
    managed = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    statement = PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::site/*"])
    plan = plan_role(
        GitHubActionsRoleArgs(
            PROVIDER_ARN,
            GitHubRepository("acme", "site"),
            ["pull_request"],
            statements=[statement],
            managed_policy_arns=[managed],
        )
    )
    assert grants(statements_of(plan, "delivery-deploy-role-policy")) == {"s3:GetObject": {"arn:aws:s3:::site/*"}}
    attachment = plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "delivery-deploy-role-managed-0")
    assert attachment.inputs == {"policyArn": managed, "role": "orchestra-delivery-deploy-role-prod"}


def test_ci_roles_are_read_even_where_the_provider_is_not_managed() -> None:
    plan = plan_role(
        GitHubActionsRoleArgs(PROVIDER_ARN, REPOSITORY, ["pull_request"], deployment=access(False, reads_ci_roles=True))
    )
    granted = grants(statements_of(plan, "delivery-deploy-role-policy"))
    assert granted["iam:GetRolePolicy"] == {
        "arn:aws:iam::123456789012:role/orchestra-*-prod",
        "arn:aws:iam::123456789012:role/github-actions/orchestra-*",
    }
    assert "iam:GetOpenIDConnectProvider" not in granted
    with pytest.raises(ValueError, match="iam service"):
        plan_role(
            GitHubActionsRoleArgs(
                PROVIDER_ARN,
                REPOSITORY,
                ["pull_request"],
                deployment=DeploymentAccess("orchestra", ["prod"], ["lambda"], write=False, reads_ci_roles=True),
            )
        )
