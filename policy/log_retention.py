"""Logs are kept for a bounded time: every log group has a retention, and every Lambda function
writes to a log group the stack declares (one Lambda creates by itself keeps logs forever)."""

from collections.abc import Mapping

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

_LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
_FUNCTION = "aws:lambda/function:Function"


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    groups = {r.props.get("name"): r for r in args.resources if r.resource_type == _LOG_GROUP}
    for name, group in groups.items():
        if not group.props.get("retentionInDays"):
            report_violation(f"log group {name} has no retentionInDays: its logs would be kept forever", group.urn)
    for function in (r for r in args.resources if r.resource_type == _FUNCTION):
        logging_config = function.props.get("loggingConfig")
        custom = logging_config.get("logGroup") if isinstance(logging_config, Mapping) else None
        log_group = custom or f"/aws/lambda/{function.props.get('name')}"
        if log_group not in groups:
            report_violation(
                f"function {function.name} logs to {log_group}, which the stack does not declare: "
                "Lambda would create it without retention",
                function.urn,
            )


LOG_RETENTION = StackValidationPolicy(
    name="lambda-log-retention",
    description="Every log group has a retention, and every Lambda function logs to a declared log group.",
    validate=_validate,
    # Unbounded logs cost money and keep personal data too long, but put nothing at risk at once.
    enforcement_level=EnforcementLevel.ADVISORY,
)
