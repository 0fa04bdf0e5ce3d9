"""AWS access for GitHub Actions through OIDC: no long-lived keys anywhere.

`GitHubOidc` is the account's identity provider for `token.actions.githubusercontent.com`
(audience `sts.amazonaws.com`). No thumbprints are given: for GitHub, IAM validates the
certificate against its own trusted CAs and ignores any configured thumbprint, and the
provider no longer requires the list.

`GitHubActionsRole` is a role only that provider can assume, and only for a token whose `aud`
is `sts.amazonaws.com` and whose `sub` is exactly one of the subjects given (`StringEquals`, no
wildcard, so a fork, another repository or another environment never matches). GitHub writes
the repository into `sub` in one of two formats, and the role lists the one the repository
sends (`GitHubRepository`): the legacy `repo:<owner>/<name>:…`, or, for repositories created or
renamed since 2026-07-15, `repo:<owner>@<owner id>/<name>@<repository id>:…`, whose ids never
change when a name is reused. Every such role lives under the IAM path `/github-actions/`,
which no deployment pattern below matches: a role that deploys can never rewrite itself or
another CI role.

Deployment permissions (`DeploymentAccess`). A role that runs `pulumi up` must create,
change and delete every AWS resource the program declares, so unlike a function's policy it
cannot name exact ARNs that do not exist yet. What it gets instead:
- actions listed one by one (no `*` in any action): per service, the calls the AWS provider
  makes to create, read, update, tag and delete the resource types the blocks in this package
  declare, and nothing else (no `lambda:InvokeFunction`, no `dynamodb:GetItem`...);
- resources limited to this account and region and to the physical names of the stacks it is
  given (`components.naming`: `<prefix>-<logical name>-<stack>`): functions, roles, tables,
  topics, alarms, dashboards named `<prefix>-*-<stack>`, secrets `<prefix>-*-<stack>-??????`
  (Secrets Manager's random suffix), SSM parameters under `/<prefix>/<stack>/`, log groups
  `/aws/lambda/<prefix>-*-<stack>` and `/aws/apigateway/<prefix>-*-<stack>`; so the dev deploy
  role cannot touch a prod resource, nor the prod role a dev one;
- where the service allows no better, and only there, wider resources, each listed in
  `_GRANTS` with the reason: API Gateway names APIs by random id (all HTTP APIs of the region,
  whichever stack made them), Lambda its event source mappings by random UUID (all mappings of
  the region); `logs:DescribeLogGroups`, the log-delivery calls API Gateway needs for access logs,
  SNS subscription calls, `ssm:DescribeParameters` and `lambda:CreateEventSourceMapping` accept
  only `*` (the service authorization reference lists no resource type for them).
The action lists follow what the AWS provider documents and calls for these resource types;
they have not yet run against AWS (nothing here reaches a cloud), so the first CI deploy is
their real test: an `AccessDenied` names the missing call, to be added here, not widened.
Read-only access (`write=False`, for previews, saved plans and drift checks) gets the read
calls only. Refreshing a `SecretVersion` or an SSM parameter reads its value, so a read role
that must refresh gets `secret_values=True`: the values of its own stacks' secrets, which
whoever holds that stack's state passphrase can already decrypt from the state.

What this does not prevent, stated plainly: a role that may write IAM roles and their inline
policies under its stack's names, and pass them to Lambda, can grant a function it deploys any
permission in the account, the other stack's resources included; and every HTTP API of the
region is open to every deploy role. That is inherent in deploying IAM and API Gateway into one
account: the guard is who can obtain a role at all — the trust policy's subjects (environments
that admit only the default branch, and for prod a reviewer), not the permission policy. A
stack that must be walled off from another belongs in an account of its own. For the same
reason the roles this module makes, and the OIDC provider, are only ever read by a deploy
role: an administrator changes them.
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

# The IAM path of every role this module makes: outside every pattern a deployment is granted.
CI_ROLE_PATH = "/github-actions/"

_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?")
_REPOSITORY_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
# GitHub's default `sub` claims, minus the repository: an environment, a branch or tag, or any pull request.
_SUBJECT = re.compile(r"pull_request|environment:[^*?\s]+|ref:refs/(heads|tags)/[^*?\s]+")
_NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

Service = Literal[
    "apigateway", "cloudwatch", "dynamodb", "iam", "lambda", "logs", "secretsmanager", "sns", "sqs", "ssm"
]


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
class GitHubRepository:
    """A repository as GitHub writes it into the `sub` claim of its Actions' OIDC tokens."""

    owner: str
    name: str
    """Exactly as GitHub spells them: IAM compares the subject case-sensitively."""
    owner_id: int | None = None
    repository_id: int | None = None
    """Both given: the id-embedded format (`repo:<owner>@<owner id>/<name>@<repository id>:…`)
    GitHub uses for repositories created or renamed since 2026-07-15. Both None: the legacy
    `repo:<owner>/<name>:…`. Which one a repository sends is shown in its OIDC settings."""

    def check(self) -> None:
        if not _OWNER.fullmatch(self.owner) or not _REPOSITORY_NAME.fullmatch(self.name):
            raise ValueError(f"repository must be <owner>/<name> as GitHub spells them, got {self.owner}/{self.name}")
        ids = (self.owner_id, self.repository_id)
        if (None in ids and ids != (None, None)) or any(i is not None and i < 1 for i in ids):
            raise ValueError("owner_id and repository_id: both positive ids (id-embedded format), or neither")

    def subject(self, claim: str) -> str:
        """The whole `sub` of a token for `claim` (`environment:prod`, `pull_request`...)."""
        if self.owner_id is None:
            return f"repo:{self.owner}/{self.name}:{claim}"
        return f"repo:{self.owner}@{self.owner_id}/{self.name}@{self.repository_id}:{claim}"


@dataclass(frozen=True)
class DeploymentAccess:
    """What a role may do to the AWS resources a Pulumi program manages in this account and region."""

    name_prefix: str
    """The program's name prefix (`components.naming`: the project's name)."""
    stacks: Sequence[str]
    """The stacks whose resources the role may touch, found by their physical names."""
    services: Sequence[Service]
    write: bool
    """True: create, update and delete (`pulumi up`). False: read only (`pulumi preview`, refresh)."""
    secret_values: bool = False
    """For a read-only role: read those stacks' secret values too, which refreshing a secret's
    version needs. A role that writes always may."""
    oidc_provider_arn: pulumi.Input[str] | None = None
    """The GitHub OIDC provider, when the program manages it: the role may read it, never change it."""
    reads_ci_roles: bool = False
    """The program declares `GitHubActionsRole`s: the role may read them (under `CI_ROLE_PATH`),
    never change them."""
    state_bucket: str | None = None
    """The S3 bucket of a self-managed Pulumi backend; None for Pulumi Cloud."""
    state_kms_key_arns: Sequence[pulumi.Input[str]] = ()
    """The KMS keys of those stacks' `awskms://` secrets providers; none for a passphrase or Pulumi Cloud."""


@dataclass(frozen=True)
class GitHubActionsRoleArgs:
    provider_arn: pulumi.Input[str]
    """The `GitHubOidc` provider's ARN."""
    repository: GitHubRepository
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
        try:
            args.repository.check()
        except ValueError as error:
            raise ValueError(f"role {name}: {error}") from None
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
                            f"{GITHUB_OIDC_HOST}:sub": [args.repository.subject(s) for s in args.subjects],
                        }
                    },
                }
            ],
        }
        self.role = aws.iam.Role(
            name,
            name=physical_name(name, IAM_ROLE),
            path=CI_ROLE_PATH,
            description=args.description or f"GitHub Actions of {args.repository.owner}/{args.repository.name}",
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


@dataclass(frozen=True)
class _StackNames:
    """The physical names of one stack's resources, as IAM resource patterns."""

    prefix: str
    stack: str

    @property
    def named(self) -> str:
        return f"{self.prefix}-*-{self.stack}"


Resources = Callable[[_AccountScope, _StackNames], list[pulumi.Output[str]]]


@dataclass(frozen=True)
class _Grant:
    service: Service
    write: bool
    """Only for roles that deploy."""
    actions: tuple[str, ...]
    resources: Resources | None
    """None: the actions accept no resource but `*` (said why where the grant is declared)."""
    secret_value: bool = False
    """Reads a secret's value: for roles that deploy, and read roles given `secret_values`."""


def _functions(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    # A qualified ARN (`:<version>`) names a version of the same function.
    return [scope.regional("lambda", f"function:{names.named}{qualifier}") for qualifier in ("", ":*")]


def _roles(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    # `role/<name>` only: the CI roles under CI_ROLE_PATH never match.
    return [scope.global_("iam", f"role/{names.named}")]


def _http_apis(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    # API ids are random, so no ARN can carry the name: every HTTP API of the region, and its tags.
    return [scope.unscoped("apigateway", path) for path in ("/apis", "/apis/*", "/tags/*")]


def _tables(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    return [scope.regional("dynamodb", f"table/{names.named}")]


def _log_groups(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    # Function and HttpApi name their log groups after the function and the API; some calls
    # name a group with the `:*` of its streams.
    return [
        scope.regional("logs", f"log-group:/aws/{kind}/{names.named}{streams}")
        for kind in ("lambda", "apigateway")
        for streams in ("", ":*")
    ]


def _alarms(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    return [scope.regional("cloudwatch", f"alarm:{names.named}")]


def _dashboards(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    return [scope.global_("cloudwatch", f"dashboard/{names.named}")]


def _topics(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    return [scope.regional("sns", names.named)]


def _secrets(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    # Secrets Manager appends `-` and six random characters to a secret's name in its ARN.
    return [scope.regional("secretsmanager", f"secret:{names.named}-??????")]


def _parameters(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    return [scope.regional("ssm", f"parameter/{names.prefix}/{names.stack}/*")]


def _queues(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    return [scope.regional("sqs", names.named)]


def _event_source_mappings(scope: _AccountScope, names: _StackNames) -> list[pulumi.Output[str]]:
    # Lambda names a mapping by a random UUID, so no ARN can carry the stack's names: the region's mappings.
    return [scope.regional("lambda", "event-source-mapping:*")]


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
    # Refreshing a secret version reads its value back.
    _Grant("secretsmanager", False, ("secretsmanager:GetSecretValue",), _secrets, secret_value=True),
    _Grant(
        "secretsmanager",
        True,
        (
            "secretsmanager:CreateSecret",
            "secretsmanager:DeleteSecret",
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
    _Grant("ssm", False, ("ssm:GetParameter", "ssm:GetParameters"), _parameters, secret_value=True),
    _Grant(
        "ssm",
        True,
        (
            "ssm:AddTagsToResource",
            "ssm:DeleteParameter",
            "ssm:PutParameter",
            "ssm:RemoveTagsFromResource",
        ),
        _parameters,
    ),
    _Grant("sqs", False, ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags"), _queues),
    _Grant(
        "sqs",
        True,
        ("sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue"),
        _queues,
    ),
    # A queue feeds a function through Lambda's event source mapping, granted with the queue.
    _Grant("sqs", False, ("lambda:GetEventSourceMapping", "lambda:ListTags"), _event_source_mappings),
    _Grant(
        "sqs",
        True,
        (
            "lambda:DeleteEventSourceMapping",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:UpdateEventSourceMapping",
        ),
        _event_source_mappings,
    ),
    # CreateEventSourceMapping accepts only `*`: the mapping's ARN does not exist before it.
    _Grant("sqs", True, ("lambda:CreateEventSourceMapping",), None),
)


_OIDC_READ = ("iam:GetOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags")
_CI_ROLE_READ = ("iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies")


def _deployment_statements(access: DeploymentAccess, scope: _AccountScope) -> list[PolicyStatement]:
    """The policy statements `access` stands for, in `_GRANTS` order."""
    bad = [part for part in (access.name_prefix, *access.stacks) if not _NAME_PART.fullmatch(part)]
    if bad or not access.stacks or len(set(access.stacks)) != len(access.stacks):
        raise ValueError(f"name prefix and stacks must be distinct letters, digits, - and _; refused: {bad}")
    unknown = sorted(set(access.services) - {grant.service for grant in _GRANTS})
    if unknown or not access.services:
        raise ValueError(f"deployment access needs known services; unknown: {unknown}")
    if (access.oidc_provider_arn is not None or access.reads_ci_roles) and "iam" not in access.services:
        raise ValueError("reading the OIDC provider or the CI roles needs the iam service")

    every_stack = [_StackNames(access.name_prefix, stack) for stack in access.stacks]
    statements: list[PolicyStatement] = []
    unscoped: list[str] = []
    for grant in _GRANTS:
        if grant.service not in access.services or (grant.write and not access.write):
            continue
        if grant.secret_value and not (access.write or access.secret_values):
            continue
        if grant.resources is None:
            unscoped.extend(grant.actions)
            continue
        resources = [pattern for names in every_stack for pattern in grant.resources(scope, names)]
        statements.append(PolicyStatement(actions=grant.actions, resources=resources))
    if unscoped:
        statements.append(PolicyStatement(actions=unscoped, resources=["*"]))
    if access.oidc_provider_arn is not None:
        statements.append(PolicyStatement(actions=_OIDC_READ, resources=[access.oidc_provider_arn]))
    if access.reads_ci_roles:
        ci_roles = scope.global_("iam", f"role{CI_ROLE_PATH}{access.name_prefix}-*")
        statements.append(PolicyStatement(actions=_CI_ROLE_READ, resources=[ci_roles]))
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
    if access.state_kms_key_arns:
        actions = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] if access.write else ["kms:Decrypt"]
        statements.append(PolicyStatement(actions=actions, resources=list(access.state_kms_key_arns)))
    return statements
