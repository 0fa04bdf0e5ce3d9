"""The policy pack's verdict on a plan, as the lines `make plan` prints after the plan."""

from collections.abc import Sequence

from .plan import Plan
from .policies import Violation


def render_violations(plan: Plan, violations: Sequence[Violation]) -> str:
    if not violations:
        return "Policies: no violations\n"
    mandatory = sum(violation.mandatory for violation in violations)
    lines = [f"Policies: {mandatory} mandatory, {len(violations) - mandatory} advisory violations"]
    for violation in sorted(violations, key=lambda v: (not v.mandatory, v.policy, v.urn or "", v.message)):
        where = _resource_label(plan, violation.urn)
        lines.append(f"  [{violation.enforcement_level.value}] {violation.policy}: {where}{violation.message}")
    return "\n".join(lines) + "\n"


def _resource_label(plan: Plan, urn: str | None) -> str:
    if urn is None:
        return ""
    try:
        resource = plan.by_urn(urn)
    except LookupError:
        return f"{urn}: "
    return f"{resource.name} ({resource.type}): "
