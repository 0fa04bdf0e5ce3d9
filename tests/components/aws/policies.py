"""Reading the IAM policies a plan declares."""

import json
from typing import Any

from tools.offline_plan import Plan


def statements_of(plan: Plan, policy_name: str) -> list[dict[str, Any]]:
    document = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", policy_name).inputs["policy"])
    assert document["Version"] == "2012-10-17"
    return document["Statement"]


def grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Action → the resources it is allowed on."""
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            granted.setdefault(action, set()).update(statement["Resource"])
    return granted
