"""A small evaluator of IAM identity policies, as AWS documents the logic for one account: an
explicit Deny wins, else any matching Allow allows, else the request is denied. It knows the
condition operators the generated documents use; an unknown one fails the test."""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any


def iam_match(pattern: str, value: str) -> bool:
    """IAM's wildcards: `*` any run of characters (`/` and `:` included), `?` exactly one."""
    regex = ".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*"))
    return re.fullmatch(regex, value) is not None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    values = _as_list(expected)
    actual = context.get(key)
    if operator in ("StringNotEquals", "ArnNotEquals"):
        # A negated operator holds when the key is absent from the request.
        return actual is None or actual not in values
    if actual is None:
        return False
    if operator in ("StringEquals", "ArnEquals"):
        return actual in values
    if operator in ("StringLike", "ArnLike"):
        return any(iam_match(pattern, actual) for pattern in values)
    raise AssertionError(f"the evaluator does not know the condition operator {operator}")


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    if not any(iam_match(pattern, action) for pattern in _as_list(statement["Action"])):
        return False
    if not any(iam_match(pattern, resource) for pattern in _as_list(statement["Resource"])):
        return False
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def allowed(document: str | Mapping[str, Any], action: str, resource: str, context: Mapping[str, str] = {}) -> bool:
    parsed = json.loads(document) if isinstance(document, str) else document
    statements = [s for s in _as_list(parsed["Statement"]) if _applies(s, action, resource, context)]
    return any(s["Effect"] == "Allow" for s in statements) and not any(s["Effect"] == "Deny" for s in statements)
