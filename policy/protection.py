"""Data in production cannot be deleted by one command: every stateful resource is protected."""

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from components.stateful import STATEFUL_TYPES

from .stack import is_production


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    # pulumi-policy shows a policy `protect` but not `retain_on_delete`; the program's tests check both.
    if args.resource_type in STATEFUL_TYPES and is_production() and not args.opts.protect:
        report_violation(
            "holds data and is not protected in production: "
            "declare it through components.stateful.stateful_options with protect=True",
            None,
        )


STATEFUL_RESOURCES_PROTECTED = ResourceValidationPolicy(
    name="stateful-resources-protected-in-prod",
    description="Tables, secrets, databases, buckets, KV namespaces and vector indexes are protected in production.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
)
