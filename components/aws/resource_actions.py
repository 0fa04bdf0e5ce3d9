"""The AWS calls the provider makes to create, read, update and delete each resource type.

Read from terraform-provider-aws (`PROVIDER_SOURCE`), which pulumi-aws wraps: each resource's
create, read, update and delete functions, their waiters (which poll with the read call) and the
tag helpers (`setTagsOut`/`updateTags`, so a resource tagged at creation needs the service's tag
action too). Each call is written as the IAM action that authorises it and the kind of resource
IAM authorises it on (`Target`); `deploy_access` turns a target into the ARNs and conditions of
one stack. A role that deploys gets the four operations' calls, a read role the read calls.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

PROVIDER_SOURCE = (
    "hashicorp/terraform-provider-aws v6 (internal/service/<service>/<resource>.go at commit "
    "30b8cc6de5e6843e30f28a55336ba47ededbfc4f for apigatewayv2), the provider pulumi-aws 7.51 wraps"
)

Target = Literal[
    "star",
    "function",
    "function-role",
    "role",
    "table",
    "dynamodb-default-key",
    "log-group",
    "alarm",
    "dashboard",
    "topic",
    "secret",
    "parameter",
    "queue",
    "event-source-mapping",
    "http-apis",
    "http-api",
    "http-api-tags",
    "http-api-stage",
    "http-api-route",
    "http-api-integration",
]
"""What IAM authorises a call on: `star` for the actions that take only `*` (`star_only_actions`);
`function-role` is a role passed to Lambda; `http-apis` the collection new APIs are created in."""

Call = tuple[str, Target]

LAMBDA_ROLLOUT_TYPE = "pulumi-python:dynamic/aws:LambdaRollout"


@dataclass(frozen=True)
class ResourceActions:
    create: tuple[Call, ...]
    read: tuple[Call, ...]
    update: tuple[Call, ...]
    delete: tuple[Call, ...]

    @property
    def all(self) -> tuple[Call, ...]:
        return self.create + self.read + self.update + self.delete


_API_TAGS: tuple[Call, ...] = (("apigateway:POST", "http-api-tags"), ("apigateway:DELETE", "http-api-tags"))

RESOURCE_ACTIONS: Mapping[str, ResourceActions] = {
    "aws:apigatewayv2/api:Api": ResourceActions(
        create=(("apigateway:POST", "http-apis"), ("apigateway:POST", "http-api-tags")),
        read=(("apigateway:GET", "http-api"),),
        update=(("apigateway:PATCH", "http-api"), *_API_TAGS),
        delete=(("apigateway:DELETE", "http-api"),),
    ),
    "aws:apigatewayv2/integration:Integration": ResourceActions(
        create=(("apigateway:POST", "http-api-integration"),),
        read=(("apigateway:GET", "http-api-integration"),),
        update=(("apigateway:PATCH", "http-api-integration"),),
        delete=(("apigateway:DELETE", "http-api-integration"),),
    ),
    "aws:apigatewayv2/route:Route": ResourceActions(
        create=(("apigateway:POST", "http-api-route"),),
        read=(("apigateway:GET", "http-api-route"),),
        update=(("apigateway:PATCH", "http-api-route"),),
        delete=(("apigateway:DELETE", "http-api-route"),),
    ),
    # A stage with access logs: API Gateway checks the caller may set up the log delivery.
    "aws:apigatewayv2/stage:Stage": ResourceActions(
        create=(
            ("apigateway:POST", "http-api-stage"),
            ("apigateway:POST", "http-api-tags"),
            ("logs:CreateLogDelivery", "star"),
            ("logs:DescribeResourcePolicies", "star"),
            ("logs:GetLogDelivery", "star"),
            ("logs:ListLogDeliveries", "star"),
            ("logs:PutResourcePolicy", "star"),
        ),
        read=(("apigateway:GET", "http-api-stage"),),
        update=(("apigateway:PATCH", "http-api-stage"), ("logs:UpdateLogDelivery", "star"), *_API_TAGS),
        delete=(("apigateway:DELETE", "http-api-stage"), ("logs:DeleteLogDelivery", "star")),
    ),
    "aws:cloudwatch/dashboard:Dashboard": ResourceActions(
        create=(("cloudwatch:PutDashboard", "dashboard"),),
        read=(("cloudwatch:GetDashboard", "dashboard"),),
        update=(("cloudwatch:PutDashboard", "dashboard"),),
        delete=(("cloudwatch:DeleteDashboards", "dashboard"),),
    ),
    "aws:cloudwatch/logGroup:LogGroup": ResourceActions(
        create=(
            ("logs:CreateLogGroup", "log-group"),
            ("logs:PutRetentionPolicy", "log-group"),
            ("logs:TagResource", "log-group"),
        ),
        read=(("logs:DescribeLogGroups", "star"), ("logs:ListTagsForResource", "log-group")),
        update=(
            ("logs:PutRetentionPolicy", "log-group"),
            ("logs:DeleteRetentionPolicy", "log-group"),
            ("logs:TagResource", "log-group"),
            ("logs:UntagResource", "log-group"),
        ),
        delete=(("logs:DeleteLogGroup", "log-group"),),
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ResourceActions(
        create=(("cloudwatch:PutMetricAlarm", "alarm"), ("cloudwatch:TagResource", "alarm")),
        read=(("cloudwatch:DescribeAlarms", "alarm"), ("cloudwatch:ListTagsForResource", "alarm")),
        update=(
            ("cloudwatch:PutMetricAlarm", "alarm"),
            ("cloudwatch:TagResource", "alarm"),
            ("cloudwatch:UntagResource", "alarm"),
        ),
        delete=(("cloudwatch:DeleteAlarms", "alarm"),),
    ),
    # The read compares the table's key with the `aws/dynamodb` key, which it looks up by alias.
    "aws:dynamodb/table:Table": ResourceActions(
        create=(
            ("dynamodb:CreateTable", "table"),
            ("dynamodb:TagResource", "table"),
            ("dynamodb:UpdateContinuousBackups", "table"),
            ("dynamodb:UpdateTimeToLive", "table"),
        ),
        read=(
            ("dynamodb:DescribeTable", "table"),
            ("dynamodb:DescribeContinuousBackups", "table"),
            ("dynamodb:DescribeTimeToLive", "table"),
            ("dynamodb:ListTagsOfResource", "table"),
            ("kms:DescribeKey", "dynamodb-default-key"),
        ),
        update=(
            ("dynamodb:UpdateTable", "table"),
            ("dynamodb:UpdateContinuousBackups", "table"),
            ("dynamodb:UpdateTimeToLive", "table"),
            ("dynamodb:TagResource", "table"),
            ("dynamodb:UntagResource", "table"),
        ),
        delete=(("dynamodb:DeleteTable", "table"),),
    ),
    "aws:iam/role:Role": ResourceActions(
        create=(("iam:CreateRole", "role"), ("iam:TagRole", "role")),
        read=(("iam:GetRole", "role"), ("iam:ListRolePolicies", "role"), ("iam:ListAttachedRolePolicies", "role")),
        update=(
            ("iam:UpdateRole", "role"),
            ("iam:UpdateAssumeRolePolicy", "role"),
            ("iam:PutRolePermissionsBoundary", "role"),
            ("iam:TagRole", "role"),
            ("iam:UntagRole", "role"),
        ),
        # Deleting a role first removes what is attached to it.
        delete=(
            ("iam:ListInstanceProfilesForRole", "role"),
            ("iam:ListAttachedRolePolicies", "role"),
            ("iam:ListRolePolicies", "role"),
            ("iam:DeleteRolePolicy", "role"),
            ("iam:DeleteRole", "role"),
        ),
    ),
    "aws:iam/rolePolicy:RolePolicy": ResourceActions(
        create=(("iam:PutRolePolicy", "role"),),
        read=(("iam:GetRolePolicy", "role"),),
        update=(("iam:PutRolePolicy", "role"),),
        delete=(("iam:DeleteRolePolicy", "role"),),
    ),
    "aws:lambda/eventSourceMapping:EventSourceMapping": ResourceActions(
        create=(
            ("lambda:CreateEventSourceMapping", "event-source-mapping"),
            ("lambda:TagResource", "event-source-mapping"),
        ),
        read=(("lambda:GetEventSourceMapping", "event-source-mapping"), ("lambda:ListTags", "event-source-mapping")),
        update=(
            ("lambda:UpdateEventSourceMapping", "event-source-mapping"),
            ("lambda:TagResource", "event-source-mapping"),
            ("lambda:UntagResource", "event-source-mapping"),
        ),
        delete=(("lambda:DeleteEventSourceMapping", "event-source-mapping"),),
    ),
    # The read gets the tags with the function (GetFunction), and the code signing of a zip package;
    # with `publish`, it finds the latest version (ListVersionsByFunction), and a change of
    # configuration alone is published by PublishVersion (a code change publishes with its update).
    "aws:lambda/function:Function": ResourceActions(
        create=(
            ("lambda:CreateFunction", "function"),
            ("lambda:TagResource", "function"),
            ("iam:PassRole", "function-role"),
        ),
        read=(
            ("lambda:GetFunction", "function"),
            ("lambda:GetFunctionCodeSigningConfig", "function"),
            ("lambda:ListVersionsByFunction", "function"),
        ),
        update=(
            ("lambda:UpdateFunctionCode", "function"),
            ("lambda:UpdateFunctionConfiguration", "function"),
            ("lambda:PublishVersion", "function"),
            ("lambda:TagResource", "function"),
            ("lambda:UntagResource", "function"),
            ("iam:PassRole", "function-role"),
        ),
        delete=(("lambda:DeleteFunction", "function"),),
    ),
    # The alias `live` and its traffic shift (`components.providers.lambda_rollout`), a dynamic
    # resource run with the deploy's own credentials: the alias and the checks' direct invocations
    # are on the function's qualified ARN (`function:<name>:live`, `function:<name>:<version>`);
    # the gate reads the function's alarms and its log group, and the report each step's metrics.
    LAMBDA_ROLLOUT_TYPE: ResourceActions(
        create=(
            ("lambda:GetAlias", "function"),
            ("lambda:CreateAlias", "function"),
            ("lambda:UpdateAlias", "function"),
            ("lambda:InvokeFunction", "function"),
            ("cloudwatch:DescribeAlarms", "alarm"),
            ("logs:FilterLogEvents", "log-group"),
            ("cloudwatch:GetMetricData", "star"),
        ),
        read=(("lambda:GetAlias", "function"),),
        update=(
            ("lambda:UpdateAlias", "function"),
            ("lambda:InvokeFunction", "function"),
            ("cloudwatch:DescribeAlarms", "alarm"),
            ("logs:FilterLogEvents", "log-group"),
            ("cloudwatch:GetMetricData", "star"),
        ),
        delete=(("lambda:DeleteAlias", "function"),),
    ),
    "aws:lambda/permission:Permission": ResourceActions(
        create=(("lambda:AddPermission", "function"),),
        read=(("lambda:GetPolicy", "function"),),
        update=(),
        delete=(("lambda:RemovePermission", "function"),),
    ),
    # Replacing the value moves the AWSCURRENT label to the new version, and off the old one on delete.
    "aws:secretsmanager/secret:Secret": ResourceActions(
        create=(("secretsmanager:CreateSecret", "secret"), ("secretsmanager:TagResource", "secret")),
        read=(("secretsmanager:DescribeSecret", "secret"), ("secretsmanager:GetResourcePolicy", "secret")),
        update=(
            ("secretsmanager:UpdateSecret", "secret"),
            ("secretsmanager:TagResource", "secret"),
            ("secretsmanager:UntagResource", "secret"),
        ),
        delete=(("secretsmanager:DeleteSecret", "secret"),),
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": ResourceActions(
        create=(("secretsmanager:PutSecretValue", "secret"),),
        read=(("secretsmanager:GetSecretValue", "secret"), ("secretsmanager:ListSecretVersionIds", "secret")),
        update=(("secretsmanager:PutSecretValue", "secret"), ("secretsmanager:UpdateSecretVersionStage", "secret")),
        delete=(("secretsmanager:UpdateSecretVersionStage", "secret"),),
    ),
    "aws:sns/topic:Topic": ResourceActions(
        create=(("sns:CreateTopic", "topic"), ("sns:SetTopicAttributes", "topic"), ("sns:TagResource", "topic")),
        read=(("sns:GetTopicAttributes", "topic"), ("sns:ListTagsForResource", "topic")),
        update=(("sns:SetTopicAttributes", "topic"), ("sns:TagResource", "topic"), ("sns:UntagResource", "topic")),
        delete=(("sns:DeleteTopic", "topic"),),
    ),
    "aws:sns/topicSubscription:TopicSubscription": ResourceActions(
        create=(("sns:Subscribe", "topic"),),
        read=(("sns:GetSubscriptionAttributes", "star"),),
        update=(("sns:SetSubscriptionAttributes", "star"),),
        delete=(("sns:Unsubscribe", "star"),),
    ),
    "aws:sqs/queue:Queue": ResourceActions(
        create=(("sqs:CreateQueue", "queue"), ("sqs:TagQueue", "queue")),
        read=(("sqs:GetQueueAttributes", "queue"), ("sqs:GetQueueUrl", "queue"), ("sqs:ListQueueTags", "queue")),
        update=(("sqs:SetQueueAttributes", "queue"), ("sqs:TagQueue", "queue"), ("sqs:UntagQueue", "queue")),
        delete=(("sqs:DeleteQueue", "queue"),),
    ),
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": ResourceActions(
        create=(("sqs:SetQueueAttributes", "queue"),),
        read=(("sqs:GetQueueAttributes", "queue"),),
        update=(("sqs:SetQueueAttributes", "queue"),),
        delete=(("sqs:SetQueueAttributes", "queue"),),
    ),
    # A SecureString parameter, when the stack keeps its secrets in SSM.
    "aws:ssm/parameter:Parameter": ResourceActions(
        create=(("ssm:PutParameter", "parameter"), ("ssm:AddTagsToResource", "parameter")),
        read=(
            ("ssm:GetParameter", "parameter"),
            ("ssm:DescribeParameters", "star"),
            ("ssm:ListTagsForResource", "parameter"),
        ),
        update=(
            ("ssm:PutParameter", "parameter"),
            ("ssm:AddTagsToResource", "parameter"),
            ("ssm:RemoveTagsFromResource", "parameter"),
        ),
        delete=(("ssm:DeleteParameter", "parameter"),),
    ),
}

SECRET_VALUE_READS = frozenset({"secretsmanager:GetSecretValue", "ssm:GetParameter"})
"""Read calls that return a secret's value: a read role makes them only when it refreshes secrets."""
