"""Data in production (the guarded stacks) cannot be deleted by one command: every stateful resource
is protected, and where the service has its own guard against deletion, that guard is on too."""

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from components.stateful import STATEFUL_TYPES

from .stack import is_guarded

# Per type, the service's own guard: what must hold of the inputs, and what to say when it does not.
_SERVICE_GUARDS: Mapping[str, tuple[Callable[[Mapping[str, Any]], bool], str]] = {
    "aws:dynamodb/table:Table": (
        lambda props: props.get("deletionProtectionEnabled") is True,
        "deletionProtectionEnabled must be true",
    ),
    "aws:secretsmanager/secret:Secret": (
        lambda props: props.get("recoveryWindowInDays") != 0,
        "recoveryWindowInDays 0 deletes the secret at once: keep a recovery window",
    ),
}


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in STATEFUL_TYPES or not is_guarded():
        return
    # pulumi-policy shows a policy `protect` but not `retain_on_delete`; the program's tests check both.
    if not args.opts.protect:
        report_violation(
            "holds data and is not protected in production: "
            "declare it through components.stateful.stateful_options with protect=True",
            None,
        )
    guard = _SERVICE_GUARDS.get(args.resource_type)
    if guard is not None and not guard[0](args.props):
        report_violation(f"holds data in production: {guard[1]}", None)


STATEFUL_RESOURCES_PROTECTED = ResourceValidationPolicy(
    name="stateful-resources-protected-in-prod",
    description="Tables, secrets, databases, buckets, KV namespaces and vector indexes are protected in production.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
)
