"""Linking: how a resource grants a function access to itself.

A resource that can be linked returns a `Link` from a method named for the
access it grants (`table.link_read_write(...)`). The function turns its links
into its environment and into one IAM policy, so exact actions on exact ARNs
are decided by the resource that knows them, and nobody writes policy JSON.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi


@dataclass(frozen=True)
class PolicyStatement:
    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]]
    conditions: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    """IAM's `Condition` block: operator → condition key → value(s)."""
    effect: Literal["Allow", "Deny"] = "Allow"

    def __post_init__(self) -> None:
        if not self.actions or not self.resources:
            raise ValueError("a policy statement needs at least one action and one resource")
        wildcards = [action for action in self.actions if "*" in action]
        if wildcards:
            raise ValueError(f"wildcard actions are not granted: {wildcards}")

    def to_json(self) -> dict[str, object]:
        statement: dict[str, object] = {
            "Effect": self.effect,
            "Action": sorted(self.actions),
            "Resource": list(self.resources),
        }
        if self.conditions:
            statement["Condition"] = {operator: dict(keys) for operator, keys in self.conditions.items()}
        return statement


@dataclass(frozen=True)
class Link:
    statements: Sequence[PolicyStatement]
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


def policy_document(statements: Sequence[PolicyStatement]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps(
        {"Version": "2012-10-17", "Statement": [statement.to_json() for statement in statements]}
    )
