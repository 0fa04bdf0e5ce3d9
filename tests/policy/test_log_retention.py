from pulumi_policy import EnforcementLevel

from .plans import resource, violations

POLICY = "lambda-log-retention"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"


def test_functions_logging_to_declared_groups_with_retention_pass() -> None:
    assert (
        violations(
            resource(LOG_GROUP, "fn-logs", {"name": "/aws/lambda/fn", "retentionInDays": 30}),
            resource(FUNCTION, "fn", {"name": "fn"}),
            resource(LOG_GROUP, "custom-logs", {"name": "/custom", "retentionInDays": 7}),
            resource(FUNCTION, "other", {"name": "other", "loggingConfig": {"logGroup": "/custom"}}),
        )
        == []
    )


def test_a_log_group_without_retention_is_an_advisory_violation() -> None:
    found = violations(resource(LOG_GROUP, "fn-logs", {"name": "/aws/lambda/fn"}))
    assert [(v.policy, v.enforcement_level, v.urn) for v in found] == [
        (POLICY, EnforcementLevel.ADVISORY, resource(LOG_GROUP, "fn-logs").urn)
    ]
    assert found[0].message == "log group /aws/lambda/fn has no retentionInDays: its logs would be kept forever"


def test_a_function_whose_log_group_is_not_declared_is_a_violation() -> None:
    found = violations(
        resource(LOG_GROUP, "other-logs", {"name": "/aws/lambda/other", "retentionInDays": 30}),
        resource(FUNCTION, "fn", {"name": "fn", "loggingConfig": {"logFormat": "JSON"}}),
    )
    assert [(v.message, v.urn) for v in found] == [
        (
            "function fn logs to /aws/lambda/fn, which the stack does not declare: Lambda would create it without "
            "retention",
            resource(FUNCTION, "fn").urn,
        )
    ]
