"""Least privilege in every IAM document the stack declares: no wildcard action, no `*` resource
(nor an ARN as wide) except for the actions AWS authorises on nothing narrower
(`components/aws/star_only_actions.py`, each with its reason), and no trust in every principal."""

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from components.aws.star_only_actions import STAR_ONLY_ACTIONS

# Where each IAM resource type keeps its JSON documents.
_DOCUMENT_INPUTS: Mapping[str, tuple[str, ...]] = {
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:iam/role:Role": ("assumeRolePolicy",),
}


def _documents(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    for key in _DOCUMENT_INPUTS.get(args.resource_type, ()):
        if key in args.props:
            yield key, args.props[key]
    if args.resource_type == "aws:iam/role:Role":
        for index, inline in enumerate(args.props.get("inlinePolicies") or []):
            if "policy" in inline:
                yield f"inlinePolicies[{index}].policy", inline["policy"]


def _as_list(value: Any) -> list[Any]:
    # IAM allows a single value where a list is expected; pulumi-policy hands lists over as Sequences.
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def _unbounded(resource: str) -> bool:
    """`*`, or an ARN that is as good as `*`: any service, region or account, or every resource of its service."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return False
    return any("*" in part or "?" in part for part in parts[1:5]) or parts[5] == "*"


def statement_problems(statement: Mapping[str, Any]) -> list[str]:
    """What is wrong with one statement, in words; nothing for a Deny (it can only narrow)."""
    if statement.get("Effect") != "Allow":
        return []
    problems: list[str] = []
    if "NotAction" in statement:
        problems.append("NotAction allows every action but the listed ones")
    if "NotResource" in statement:
        problems.append("NotResource allows every resource but the listed ones")
    actions = [str(action) for action in _as_list(statement.get("Action", []))]
    wildcards = [action for action in actions if "*" in action or "?" in action]
    if wildcards:
        problems.append(f"wildcard actions {wildcards}: name each action")
    unbounded = [str(resource) for resource in _as_list(statement.get("Resource", [])) if _unbounded(str(resource))]
    if unbounded:
        unscopable = [action for action in actions if action not in STAR_ONLY_ACTIONS and action not in wildcards]
        if unscopable:
            problems.append(f"resource {unbounded[0]} for {unscopable}, which accept narrower resources")
    principal = statement.get("Principal")
    if principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS", []))):
        problems.append("trusts every principal (*)")
    return problems


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for key, document in _documents(args):
        try:
            parsed = json.loads(document) if isinstance(document, str) else document
            statements = _as_list(parsed["Statement"])
        except (ValueError, TypeError, KeyError):
            report_violation(f"{key} is not an IAM policy document", None)
            continue
        for index, statement in enumerate(statements):
            if not isinstance(statement, Mapping):
                report_violation(f"{key} statement {index} is not an object", None)
                continue
            for problem in statement_problems(statement):
                report_violation(f"{key} statement {index}: {problem}", None)


IAM_LEAST_PRIVILEGE = ResourceValidationPolicy(
    name="iam-no-wildcards",
    description="IAM documents name every action, give `*` only to actions that accept nothing narrower, "
    "and never trust every principal.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
)
