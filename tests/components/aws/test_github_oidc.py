import dataclasses
import json
from typing import Any

import pulumi
import pytest

from components.aws.deploy_access import DeploymentAccess
from components.aws.github_oidc import (
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
REPOSITORY = GitHubRepository("acme", "orchestra")
TYPES = ("aws:dynamodb/table:Table", "aws:secretsmanager/secretVersion:SecretVersion")
ROLE_NAME = "orchestra-ci-deploy-prod"


def access(write: bool, stack: str = "prod", **extra: Any) -> DeploymentAccess:
    return DeploymentAccess(name_prefix="orchestra", stack=stack, resource_types=TYPES, write=write, **extra)


def role_args(subjects: list[str], repository: GitHubRepository = REPOSITORY, **extra: Any) -> GitHubActionsRoleArgs:
    return GitHubActionsRoleArgs(PROVIDER_ARN, ROLE_NAME, repository, subjects, **extra)


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
    plan = plan_role(role_args(["environment:production"], deployment=access(True)), stack)
    component = plan.one("orchestra:aws:GitHubActionsRole", "delivery-deploy-role")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("aws:iam/role:Role", "delivery-deploy-role"),
        ("aws:iam/rolePolicy:RolePolicy", "delivery-deploy-role-policy"),
    ]
    role = plan.one("aws:iam/role:Role", "delivery-deploy-role").inputs
    assert role["name"] == ROLE_NAME
    # Outside every `role/<prefix>-*-<stack>` a deployment may write.
    assert role["path"] == "/github-actions/"
    assert role["maxSessionDuration"] == 3600
    assert trust_of(plan) == statement_of_trust(["repo:acme/orchestra:environment:production"])


def test_trust_lists_the_id_embedded_subjects_when_the_repository_sends_them() -> None:
    repository = GitHubRepository("acme", "orchestra", owner_id=123, repository_id=456)
    plan = plan_role(role_args(["environment:dev", "pull_request"], repository, deployment=access(False)))
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
        plan_role(role_args(subjects, repository, deployment=access(write=False)))


def test_a_role_must_grant_something() -> None:
    with pytest.raises(ValueError, match="grants nothing"):
        plan_role(role_args(["pull_request"]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stack": "prod*"}, "stack"),
        ({"stack": ""}, "stack"),
        ({"resource_types": ["aws:s3/bucket:Bucket"]}, "unknown"),
    ],
)
def test_deployment_access_is_one_named_stack_of_known_types(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_role(role_args(["pull_request"], deployment=dataclasses.replace(access(False), **changes)))


def test_a_role_name_the_iam_rules_refuse_is_refused() -> None:
    with pytest.raises(ValueError, match="IAM role name"):
        plan_role(dataclasses.replace(role_args(["pull_request"], deployment=access(False)), role_name="a b"))


def test_a_read_role_reads_secret_values_only_when_asked() -> None:
    def granted(**extra: Any) -> dict[str, set[str]]:
        plan = plan_role(role_args(["pull_request"], deployment=access(False, **extra)))
        return grants(statements_of(plan, "delivery-deploy-role-policy"))

    assert "secretsmanager:GetSecretValue" not in granted()
    assert granted(secret_values=True)["secretsmanager:GetSecretValue"] == {
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:orchestra-*-prod-??????"
    }


def test_state_backend_access_lets_a_reader_write_nothing_and_decrypt_only_its_keys() -> None:
    dev_key, prod_key = (f"arn:aws:kms:us-east-1:123456789012:key/{stack}" for stack in ("dev", "prod"))

    def policy(write: bool, stack: str, keys: tuple[str, ...]) -> dict[str, set[str]]:
        extra = {"state_bucket": "acme-pulumi-state", "state_kms_key_arns": keys}
        plan = plan_role(role_args(["pull_request"], deployment=access(write, stack, **extra)))
        return grants(statements_of(plan, "delivery-deploy-role-policy"))

    deploy = policy(True, "prod", (prod_key,))
    preview = policy(False, "dev", (dev_key,))
    bucket = "arn:aws:s3:::acme-pulumi-state"
    assert deploy["s3:PutObject"] == deploy["s3:GetObject"] == {f"{bucket}/*"}
    assert preview["s3:GetObject"] == {f"{bucket}/*"}
    # A preview takes no lock on the S3 backend (only update, refresh, import and destroy do):
    # a role that previews writes nothing to the state.
    assert "s3:PutObject" not in preview and "s3:DeleteObject" not in preview
    assert deploy["s3:ListBucket"] == preview["s3:ListBucket"] == {bucket}
    assert {a: deploy[a] for a in deploy if a.startswith("kms:") and a != "kms:DescribeKey"} == {
        "kms:Decrypt": {prod_key},
        "kms:Encrypt": {prod_key},
        "kms:GenerateDataKey": {prod_key},
    }
    assert {a: preview[a] for a in preview if a.startswith("kms:") and a != "kms:DescribeKey"} == {
        "kms:Decrypt": {dev_key}
    }


def test_explicit_statements_and_managed_policies() -> None:
    managed = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    statement = PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::site/*"])
    plan = plan_role(
        role_args(
            ["pull_request"], GitHubRepository("acme", "site"), statements=[statement], managed_policy_arns=[managed]
        )
    )
    assert grants(statements_of(plan, "delivery-deploy-role-policy")) == {"s3:GetObject": {"arn:aws:s3:::site/*"}}
    attachment = plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "delivery-deploy-role-managed-0")
    assert attachment.inputs == {"policyArn": managed, "role": ROLE_NAME}
