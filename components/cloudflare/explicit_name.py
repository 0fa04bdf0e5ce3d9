"""Physical names for Cloudflare blocks that let the caller choose one."""

import re

from ..naming import NameRule, physical_name


def resolve_name(logical_name: str, explicit: str | None, rule: NameRule) -> str:
    """The naming function's `<project>-<logical_name>-<stack>`, unless a name is chosen by hand
    (one an outside party already relies on). A chosen name is used exactly as written: it is
    checked against the service's rules, never lowercased or shortened."""
    if explicit is None:
        return physical_name(logical_name, rule)
    bad = sorted(set(re.sub(rule.allowed, "", explicit)))
    if not explicit or bad or (rule.lowercase and explicit != explicit.lower()):
        allowed = f"{rule.allowed}{' (lowercase)' if rule.lowercase else ''}"
        raise ValueError(f"{rule.service} name {explicit!r} must be made of {allowed}")
    if len(explicit) > rule.max_length:
        raise ValueError(f"{rule.service} name {explicit!r} is longer than {rule.max_length} characters")
    return explicit
