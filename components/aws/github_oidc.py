"""AWS access for GitHub Actions through OIDC: no long-lived keys anywhere.

`GitHubOidc` is the account's identity provider for `token.actions.githubusercontent.com`
(audience `sts.amazonaws.com`). No thumbprints are given: for GitHub, IAM validates the
certificate against its own trusted CAs and ignores any configured thumbprint, and the
provider no longer requires the list.

`GitHubActionsRole` is a role only that provider can assume, and only for a token whose `aud`
is `sts.amazonaws.com` and whose `sub` is exactly one of `repo:<owner>/<name>:<subject>`
(`StringEquals`, no wildcard, so a fork, another repository or another branch never matches).
It assumes GitHub's default subject format; a repository that customises its OIDC subject
claim must list the customised subjects.

Deployment permissions (`DeploymentAccess`). A role that runs `pulumi up` must create,
change and delete every AWS resource the program declares, so unlike a function's policy it
cannot name exact ARNs that do not exist yet. What it gets instead:
- actions listed one by one (no `*` in any action): per service, the calls the AWS provider
  makes to create, read, update, tag and delete the resource types the blocks in this package
  declare, and nothing else (no `lambda:InvokeFunction`, no `dynamodb:GetItem`...);
- resources limited to this account and region and to the program's name prefix: functions,
  roles, tables, topics, alarms, dashboards and secrets named `<prefix>-*`, SSM parameters under
  `/<prefix>/`, log groups `/aws/lambda/<prefix>-*` and `/aws/apigateway/<prefix>-*`;
- where the service allows no better, and only there, wider resources, each listed in
  `_GRANTS` with the reason: API Gateway names APIs by random id (all HTTP APIs of the region);
  `logs:DescribeLogGroups` lists the region's log groups; the log-delivery calls API Gateway
  needs for access logs, SNS subscription calls and `ssm:DescribeParameters` accept only `*`.
The action lists follow what the AWS provider documents and calls for these resource types;
they have not yet run against AWS (nothing here reaches a cloud), so the first CI deploy is
their real test: an `AccessDenied` names the missing call, to be added here, not widened.
Read-only access (`write=False`, for previews of pull requests) gets the read calls only and
never a secret's value (`secretsmanager:GetSecretValue`, `ssm:GetParameter` stay with the
deploy role), since a pull request's code runs with it.

What this does not prevent, stated plainly: a role that may write IAM roles and their inline
policies under the prefix, and pass them to Lambda, can grant a function it deploys any
permission in the account. That is inherent in deploying IAM; the guard is who can obtain the
role at all — the trust policy's subjects (the default branch and an environment with required
reviewers), not the permission policy.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from ..naming import IAM_ROLE, physical_name
from .link import PolicyStatement, policy_document

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"

_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
# GitHub's default `sub` claims, minus the repository: an environment, a branch or tag, or any pull request.
_SUBJECT = re.compile(r"pull_request|environment:[^*?\s]+|ref:refs/(heads|tags)/[^*?\s]+")
_NAME_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

Service = Literal["apigateway", "cloudwatch", "dynamodb", "iam", "lambda", "logs", "secretsmanager", "sns", "ssm"]


@dataclass(frozen=True)
class GitHubOidcArgs:
    create_provider: bool = True
    """An account holds one provider per URL. False where it already exists (created by hand or by
    another program): its ARN, which IAM derives from the URL, is used instead."""


class GitHubOidc(pulumi.ComponentResource):
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: GitHubOidcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:GitHubOidc", name, None, opts)
        if args.create_provider:
            provider = aws.iam.OpenIdConnectProvider(
                name,
                url=GITHUB_OIDC_URL,
                client_id_lists=[STS_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.arn = provider.arn
        else:
            lookup = pulumi.InvokeOutputOptions(parent=self)
            self.arn = pulumi.Output.format(
                "arn:{0}:iam::{1}:oidc-provider/{2}",
                aws.get_partition_output(opts=lookup).partition,
                aws.get_caller_identity_output(opts=lookup).account_id,
                GITHUB_OIDC_HOST,
            )
        self.register_outputs({"arn": self.arn})


@dataclass(frozen=True)
class DeploymentAccess:
    """What a role may do to the AWS resources a Pulumi program manages in this account and region."""

    name_prefix: str
    """Every resource the program names starts with `<prefix>-` (SSM parameters: `/<prefix>/`)."""
    services: Sequence[Service]
    write: bool
    """True: create, update and delete (`pulumi up`). False: read only (`pulumi preview`, refresh)."""
    oidc_provider_arn: pulumi.Input[str] | None = None
    """The GitHub OIDC provider, when the program manages it (`iam` must be among the services)."""
    state_bucket: str | None = None
    """The S3 bucket of a self-managed Pulumi backend; None for Pulumi Cloud."""
    state_kms_key_arn: str | None = None
    """The KMS key of an `awskms://` secrets provider; None for a passphrase or Pulumi Cloud."""


@dataclass(frozen=True)
class GitHubActionsRoleArgs:
    provider_arn: pulumi.Input[str]
    """The `GitHubOidc` provider's ARN."""
    repository: str
    """`<owner>/<name>`, exactly as GitHub spells it: IAM compares the subject case-sensitively."""
    subjects: Sequence[str]
    """What of that repository may assume the role: `environment:<name>`, `ref:refs/heads/<branch>`,
    `ref:refs/tags/<tag>` or `pull_request`. Exact values; wildcards are refused."""
    statements: Sequence[PolicyStatement] = ()
    deployment: DeploymentAccess | None = None
    managed_policy_arns: Sequence[str] = ()
    description: str = ""
    max_session_hours: int = 1
    """How long the credentials last (1-12); a job that runs longer must assume the role again."""


class GitHubActionsRole(pulumi.ComponentResource):
    role: aws.iam.Role
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: GitHubActionsRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:GitHubActionsRole", name, None, opts)
        if not _REPOSITORY.fullmatch(args.repository):
            raise ValueError(f"role {name}: repository must be <owner>/<name>, got {args.repository!r}")
        bad = [subject for subject in args.subjects if not _SUBJECT.fullmatch(subject)]
        if not args.subjects or bad or len(set(args.subjects)) != len(args.subjects):
            raise ValueError(
                f"role {name}: subjects must be distinct exact environment:, ref:refs/heads/, ref:refs/tags/ "
                f"or pull_request values; refused: {bad}"
            )
        if not args.statements and args.deployment is None and not args.managed_policy_arns:
            raise ValueError(f"role {name}: grants nothing; give statements, deployment access or managed policies")
        if not 1 <= args.max_session_hours <= 12:
            raise ValueError(f"role {name}: max session must be 1-12 hours")
        child = pulumi.ResourceOptions(parent=self)

        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {"Federated": args.provider_arn},
                    "Condition": {
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                            f"{GITHUB_OIDC_HOST}:sub": [f"repo:{args.repository}:{s}" for s in args.subjects],
                        }
                    },
                }
            ],
        }
        self.role = aws.iam.Role(
            name,
            name=physical_name(name, IAM_ROLE),
            description=args.description or f"GitHub Actions of {args.repository}",
            assume_role_policy=pulumi.Output.json_dumps(trust),
            max_session_duration=args.max_session_hours * 3600,
            opts=child,
        )
        statements = list(args.statements)
        if args.deployment is not None:
            statements += _deployment_statements(args.deployment, _AccountScope.current(self))
        if statements:
            aws.iam.RolePolicy(f"{name}-policy", role=self.role.id, policy=policy_document(statements), opts=child)
        for index, policy_arn in enumerate(args.managed_policy_arns):
            aws.iam.RolePolicyAttachment(
                f"{name}-managed-{index}", role=self.role.name, policy_arn=policy_arn, opts=child
            )
        self.arn = self.role.arn
        self.name = self.role.name
        self.register_outputs({"arn": self.arn, "name": self.name})


@dataclass(frozen=True)
class _AccountScope:
    partition: pulumi.Output[str]
    account: pulumi.Output[str]
    region: pulumi.Output[str]

    @classmethod
    def current(cls, parent: pulumi.Resource) -> "_AccountScope":
        lookup = pulumi.InvokeOutputOptions(parent=parent)
        return cls(
            partition=aws.get_partition_output(opts=lookup).partition,
            account=aws.get_caller_identity_output(opts=lookup).account_id,
            region=aws.get_region_output(opts=lookup).region,
        )

    def regional(self, service: str, resource: str) -> pulumi.Output[str]:
        return pulumi.Output.format(
            "arn:{0}:{1}:{2}:{3}:{4}", self.partition, service, self.region, self.account, resource
        )

    def global_(self, service: str, resource: str) -> pulumi.Output[str]:
        return pulumi.Output.format("arn:{0}:{1}::{2}:{3}", self.partition, service, self.account, resource)

    def unscoped(self, service: str, resource: str) -> pulumi.Output[str]:
        """API Gateway's ARNs have a region but no account."""
        return pulumi.Output.format("arn:{0}:{1}:{2}::{3}", self.partition, service, self.region, resource)


Resources = Callable[[_AccountScope, str], list[pulumi.Output[str]]]


@dataclass(frozen=True)
class _Grant:
    service: Service
    write: bool
    """Only for roles that deploy."""
    actions: tuple[str, ...]
    resources: Resources | None
    """None: the actions accept no resource but `*` (said why where the grant is declared)."""


def _functions(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    return [scope.regional("lambda", f"function:{prefix}-*")]


def _roles(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    return [scope.global_("iam", f"role/{prefix}-*")]


def _http_apis(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    # API ids are random, so no ARN can carry the prefix: every HTTP API of the region, and its tags.
    return [scope.unscoped("apigateway", path) for path in ("/apis", "/apis/*", "/tags/*")]


def _tables(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    return [scope.regional("dynamodb", f"table/{prefix}-*")]


def _log_groups(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    # Function and HttpApi name their log groups after the function and the API.
    return [scope.regional("logs", f"log-group:/aws/{kind}/{prefix}-*") for kind in ("lambda", "apigateway")]


def _alarms(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    return [scope.regional("cloudwatch", f"alarm:{prefix}-*")]


def _dashboards(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    return [scope.global_("cloudwatch", f"dashboard/{prefix}-*")]


def _topics(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    return [scope.regional("sns", f"{prefix}-*")]


def _secrets(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    return [scope.regional("secretsmanager", f"secret:{prefix}-*")]


def _parameters(scope: _AccountScope, prefix: str) -> list[pulumi.Output[str]]:
    return [scope.regional("ssm", f"parameter/{prefix}/*")]


_GRANTS: tuple[_Grant, ...] = (
    _Grant(
        "lambda",
        False,
        (
            "lambda:GetFunction",
            "lambda:GetFunctionCodeSigningConfig",
            "lambda:GetFunctionConfiguration",
            "lambda:GetPolicy",
            "lambda:ListTags",
            "lambda:ListVersionsByFunction",
        ),
        _functions,
    ),
    _Grant(
        "lambda",
        True,
        (
            "lambda:AddPermission",
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:DeleteFunctionConcurrency",
            "lambda:PublishVersion",
            "lambda:PutFunctionConcurrency",
            "lambda:RemovePermission",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
        ),
        _functions,
    ),
    # A function is created with its role, which the caller must be allowed to pass.
    _Grant("lambda", True, ("iam:PassRole",), _roles),
    _Grant("apigateway", False, ("apigateway:GET",), _http_apis),
    _Grant(
        "apigateway", True, ("apigateway:DELETE", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"), _http_apis
    ),
    # What API Gateway's documentation requires to turn on a stage's access logs; these calls
    # have no resource type in IAM.
    _Grant(
        "apigateway",
        True,
        (
            "logs:CreateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:DescribeResourcePolicies",
            "logs:GetLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:UpdateLogDelivery",
        ),
        None,
    ),
    _Grant(
        "dynamodb",
        False,
        (
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:DescribeTable",
            "dynamodb:DescribeTimeToLive",
            "dynamodb:ListTagsOfResource",
        ),
        _tables,
    ),
    _Grant(
        "dynamodb",
        True,
        (
            "dynamodb:CreateTable",
            "dynamodb:DeleteTable",
            "dynamodb:TagResource",
            "dynamodb:UntagResource",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:UpdateTable",
            "dynamodb:UpdateTimeToLive",
        ),
        _tables,
    ),
    _Grant(
        "iam",
        False,
        (
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole",
            "iam:ListRolePolicies",
        ),
        _roles,
    ),
    # Inline policies only: attaching managed policies (e.g. AdministratorAccess) is not granted.
    _Grant(
        "iam",
        True,
        (
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:PutRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
            "iam:UpdateRoleDescription",
        ),
        _roles,
    ),
    _Grant("logs", False, ("logs:ListTagsForResource",), _log_groups),
    # A list call: IAM authorises it on no log group, only on `*`.
    _Grant("logs", False, ("logs:DescribeLogGroups",), None),
    _Grant(
        "logs",
        True,
        (
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:DeleteRetentionPolicy",
            "logs:PutRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
        ),
        _log_groups,
    ),
    _Grant("cloudwatch", False, ("cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"), _alarms),
    _Grant("cloudwatch", False, ("cloudwatch:GetDashboard",), _dashboards),
    _Grant(
        "cloudwatch",
        True,
        ("cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:UntagResource"),
        _alarms,
    ),
    _Grant("cloudwatch", True, ("cloudwatch:DeleteDashboards", "cloudwatch:PutDashboard"), _dashboards),
    _Grant(
        "sns",
        False,
        ("sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic", "sns:ListTagsForResource"),
        _topics,
    ),
    # Subscriptions are not IAM resources: these calls accept only `*`.
    _Grant("sns", False, ("sns:GetSubscriptionAttributes",), None),
    _Grant(
        "sns",
        True,
        (
            "sns:CreateTopic",
            "sns:DeleteTopic",
            "sns:SetTopicAttributes",
            "sns:Subscribe",
            "sns:TagResource",
            "sns:UntagResource",
        ),
        _topics,
    ),
    _Grant("sns", True, ("sns:SetSubscriptionAttributes", "sns:Unsubscribe"), None),
    _Grant(
        "secretsmanager",
        False,
        ("secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecretVersionIds"),
        _secrets,
    ),
    # Reading a value back (refresh of a secret version) is a deploy-only right.
    _Grant(
        "secretsmanager",
        True,
        (
            "secretsmanager:CreateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
            "secretsmanager:UpdateSecret",
        ),
        _secrets,
    ),
    _Grant("ssm", False, ("ssm:ListTagsForResource",), _parameters),
    # DescribeParameters accepts only `*`; it returns names and metadata, never values.
    _Grant("ssm", False, ("ssm:DescribeParameters",), None),
    _Grant(
        "ssm",
        True,
        (
            "ssm:AddTagsToResource",
            "ssm:DeleteParameter",
            "ssm:GetParameter",
            "ssm:GetParameters",
            "ssm:PutParameter",
            "ssm:RemoveTagsFromResource",
        ),
        _parameters,
    ),
)

_OIDC_READ = ("iam:GetOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags")
_OIDC_WRITE = (
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
)


def _deployment_statements(access: DeploymentAccess, scope: _AccountScope) -> list[PolicyStatement]:
    """The policy statements `access` stands for, in `_GRANTS` order."""
    if not _NAME_PREFIX.fullmatch(access.name_prefix):
        raise ValueError(f"name prefix {access.name_prefix!r} must be letters, digits, - and _")
    unknown = sorted(set(access.services) - {grant.service for grant in _GRANTS})
    if unknown or not access.services:
        raise ValueError(f"deployment access needs known services; unknown: {unknown}")
    if access.oidc_provider_arn is not None and "iam" not in access.services:
        raise ValueError("managing the OIDC provider needs the iam service")

    statements: list[PolicyStatement] = []
    unscoped: list[str] = []
    for grant in _GRANTS:
        if grant.service not in access.services or (grant.write and not access.write):
            continue
        if grant.resources is None:
            unscoped.extend(grant.actions)
        else:
            statements.append(
                PolicyStatement(actions=grant.actions, resources=grant.resources(scope, access.name_prefix))
            )
    if unscoped:
        statements.append(PolicyStatement(actions=unscoped, resources=["*"]))
    if access.oidc_provider_arn is not None:
        actions = _OIDC_READ + _OIDC_WRITE if access.write else _OIDC_READ
        statements.append(PolicyStatement(actions=actions, resources=[access.oidc_provider_arn]))
    statements += _state_statements(access, scope)
    return statements


def _state_statements(access: DeploymentAccess, scope: _AccountScope) -> list[PolicyStatement]:
    statements = []
    if access.state_bucket:
        bucket = pulumi.Output.format("arn:{0}:s3:::{1}", scope.partition, access.state_bucket)
        objects = pulumi.Output.concat(bucket, "/*")
        # A preview still takes the stack's lock; it may write lock files and nothing else.
        locks = pulumi.Output.concat(bucket, "/*.pulumi/locks/*")
        statements += [
            PolicyStatement(actions=["s3:ListBucket"], resources=[bucket]),
            PolicyStatement(actions=["s3:GetObject"], resources=[objects]),
            PolicyStatement(
                actions=["s3:DeleteObject", "s3:PutObject"], resources=[objects if access.write else locks]
            ),
        ]
    if access.state_kms_key_arn:
        actions = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] if access.write else ["kms:Decrypt"]
        statements.append(PolicyStatement(actions=actions, resources=[access.state_kms_key_arn]))
    return statements
