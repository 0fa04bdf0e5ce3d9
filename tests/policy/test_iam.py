import json
from typing import Any

import pytest

from policy.iam import STAR_ONLY_ACTIONS

from .plans import messages, resource, violations

POLICY = "iam-no-wildcards"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/orchestra-runs"


def role_policy(*statements: dict[str, Any]) -> list[str]:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    found = violations(resource("aws:iam/rolePolicy:RolePolicy", "fn-policy", {"policy": document}))
    assert all(v.mandatory for v in found)
    return messages(found, POLICY)


def allow(action: Any, resource_: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource_}


def test_named_actions_on_named_resources_pass() -> None:
    assert role_policy(allow(["dynamodb:GetItem", "dynamodb:PutItem"], [TABLE])) == []


def test_a_wildcard_action_is_refused() -> None:
    assert role_policy(allow(["dynamodb:*"], [TABLE])) == [
        "policy statement 0: wildcard actions ['dynamodb:*']: name each action"
    ]
    assert role_policy(allow("*", "*")) == ["policy statement 0: wildcard actions ['*']: name each action"]
    assert role_policy(allow("dynamodb:Get?tem", TABLE)) != []


def test_star_resource_only_for_actions_that_accept_nothing_narrower() -> None:
    assert role_policy(allow(sorted(STAR_ONLY_ACTIONS), "*")) == []
    assert role_policy(allow(["ssm:DescribeParameters", "dynamodb:GetItem"], ["*"])) == [
        "policy statement 0: resource * for ['dynamodb:GetItem'], which accept narrower resources"
    ]


@pytest.mark.parametrize(
    "unbounded",
    [
        "arn:aws:dynamodb:*:123456789012:table/orchestra-runs",
        "arn:aws:dynamodb:us-east-1:*:table/orchestra-runs",
        "arn:*:dynamodb:us-east-1:123456789012:table/orchestra-runs",
        "arn:aws:s3:::*",
        "arn:aws:dynamo?b:us-east-1:123456789012:table/x",
    ],
)
def test_an_arn_as_wide_as_star_counts_as_star(unbounded: str) -> None:
    assert role_policy(allow(["dynamodb:GetItem"], [TABLE, unbounded])) == [
        f"policy statement 0: resource {unbounded} for ['dynamodb:GetItem'], which accept narrower resources"
    ]


def test_patterns_narrower_than_star_are_resources_not_wildcards() -> None:
    assert role_policy(allow(["logs:PutLogEvents"], ["arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:*"])) == []


def test_negations_and_public_trust_are_refused() -> None:
    assert role_policy({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": [TABLE]}) == [
        "policy statement 0: NotAction allows every action but the listed ones"
    ]
    assert role_policy({"Effect": "Allow", "Action": ["s3:GetObject"], "NotResource": [TABLE]}) == [
        "policy statement 0: NotResource allows every resource but the listed ones"
    ]


def test_deny_statements_may_use_wildcards() -> None:
    assert role_policy({"Effect": "Deny", "Action": "*", "Resource": "*"}) == []


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::1:root", "*"]}])
def test_a_role_trusting_everyone_is_refused(principal: Any) -> None:
    trust = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal}
    document = json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    found = violations(resource("aws:iam/role:Role", "fn-role", {"assumeRolePolicy": document}))
    assert messages(found, POLICY) == ["assumeRolePolicy statement 0: trusts every principal (*)"]


def test_inline_policies_of_a_role_are_checked_too() -> None:
    inline = json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:*", "*")]})
    found = violations(resource("aws:iam/role:Role", "fn-role", {"inlinePolicies": [{"name": "i", "policy": inline}]}))
    assert messages(found, POLICY) == [
        "inlinePolicies[0].policy statement 0: wildcard actions ['s3:*']: name each action"
    ]


@pytest.mark.parametrize("document", ["not json", "[]", '"text"', '{"Version": "2012-10-17"}'])
def test_a_document_that_is_not_a_policy_is_a_violation(document: str) -> None:
    found = violations(resource("aws:iam/policy:Policy", "p", {"policy": document}))
    assert messages(found, POLICY) == ["policy is not an IAM policy document"]


def test_a_statement_that_is_not_an_object_is_a_violation() -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": ["Allow everything", allow("s3:GetObject", TABLE)]})
    found = violations(resource("aws:iam/policy:Policy", "p", {"policy": document}))
    assert messages(found, POLICY) == ["policy statement 0 is not an object"]
