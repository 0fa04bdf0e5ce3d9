"""What a CI role may do to the AWS resources one stack of a Pulumi program declares.

A role that runs `pulumi up` must create, change and delete every resource the stack declares,
so unlike a function's policy it cannot name exact ARNs that do not exist yet. It gets instead
exactly the calls `resource_actions` lists for the stack's resource types (the read calls only,
for a role that previews), each on that stack's resources alone:
- by physical name (`components.naming.stack_name_pattern`: `<prefix>-*-<stack>`) where the ARN
  carries it: functions, roles, tables, log groups, alarms, dashboards, topics, queues, secrets
  (`-??????`: Secrets Manager's random suffix), SSM parameters under `/<prefix>/<stack>/`;
- by condition where the ARN carries a random id: an event source mapping by the function it
  feeds (`lambda:FunctionArn`), an HTTP API by its name (`apigateway:Request/ApiName`,
  `apigateway:Resource/ApiName`), its stages and tags by the stack tag every resource of the stack
  carries (`aws:defaultTags` in the stack file: `stack: <stack>`), the `aws/dynamodb` key by the
  alias the table's read asks for (`kms:RequestAlias`), a role passed only to Lambda
  (`iam:PassedToService`);
- `*` only for the actions that take nothing narrower (`star_only_actions`, each with its reason).

HTTP API routes and integrations are the exception: IAM names them only by the API's random id,
and, unlike REST APIs', they inherit no tags from their API. Within one AWS account a stack's
deploy role can therefore reach another stack's routes and integrations; one account per stack
(see the README's account layout) is what walls them off.

Every role the deploy role creates or changes must carry the stack's function boundary
(`function_boundary_statements`): IAM refuses `CreateRole`, `PutRolePolicy` and the other role
writes without it (`iam:PermissionsBoundary`), and the deploy role may neither remove a boundary
nor change the boundary policy, which lives under the CI path it cannot write. So whatever
policy a deployment writes, no function of the stack can get more than the boundary allows: its
own stack's logs, table, secrets and queues.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..naming import stack_name_pattern
from .link import PolicyStatement
from .queue import CONSUME_ACTIONS
from .resource_actions import RESOURCE_ACTIONS, SECRET_VALUE_READS, Target
from .table import READ_ACTIONS as TABLE_READ_ACTIONS
from .table import WRITE_ACTIONS as TABLE_WRITE_ACTIONS

CI_ROLE_PATH = "/github-actions/"
"""The IAM path of the CI roles and the function boundaries: outside every pattern a deployment is granted."""
STACK_TAG = "stack"
"""The tag every resource of a stack carries with the stack's name (the stack file's `aws:defaultTags`)."""

# The role writes IAM authorises with the `iam:PermissionsBoundary` of the role they change.
BOUNDED_ROLE_WRITES = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
)
# What could loosen a boundary: denied outright, whatever else a role is given.
_BOUNDARY_CHANGES = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)
_DYNAMODB_DEFAULT_KEY_ALIAS = "alias/aws/dynamodb"
# API Gateway ids are ten characters: `/apis/<id>` without what lies under it.
_API_ID = "?" * 10


def ci_role_name(name_prefix: str, stack: str, kind: str) -> str:
    """The name of a stack's CI role (`deploy`, `read`), under `CI_ROLE_PATH`."""
    return f"{name_prefix}-ci-{kind}-{stack}"


def function_boundary_name(name_prefix: str, stack: str) -> str:
    return f"{name_prefix}-function-boundary-{stack}"


@dataclass(frozen=True)
class AccountScope:
    """The partition, account and region a stack's roles and resources live in."""

    partition: pulumi.Input[str]
    account: pulumi.Input[str]
    region: pulumi.Input[str]

    @classmethod
    def current(cls, parent: pulumi.Resource | None = None) -> "AccountScope":
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

    def api_gateway(self, path: str) -> pulumi.Output[str]:
        """API Gateway's ARNs have a region but no account."""
        return pulumi.Output.format("arn:{0}:apigateway:{1}::{2}", self.partition, self.region, path)

    def ci_role_arn(self, name_prefix: str, stack: str, kind: str) -> pulumi.Output[str]:
        return self.global_("iam", f"role{CI_ROLE_PATH}{ci_role_name(name_prefix, stack, kind)}")

    def function_boundary_arn(self, name_prefix: str, stack: str) -> pulumi.Output[str]:
        return self.global_("iam", f"policy{CI_ROLE_PATH}{function_boundary_name(name_prefix, stack)}")


@dataclass(frozen=True)
class DeploymentAccess:
    """What a role may do to one stack's AWS resources in one account and region."""

    name_prefix: str
    """The program's name prefix (`components.naming`: the project's name)."""
    stack: str
    """The stack whose resources the role may touch, found by their physical names and stack tag."""
    resource_types: Sequence[str]
    """The Pulumi types of the AWS resources the stack declares (keys of `RESOURCE_ACTIONS`)."""
    write: bool
    """True: create, update and delete (`pulumi up`). False: read only (`pulumi preview`, refresh)."""
    secret_values: bool = False
    """For a read-only role: read the stack's secret values too, which refreshing a secret's
    version needs. A role that writes always may."""
    state_bucket: str | None = None
    """The S3 bucket of a self-managed Pulumi backend; None for Pulumi Cloud."""
    state_kms_key_arns: Sequence[pulumi.Input[str]] = ()
    """The KMS keys of the stack's `awskms://` secrets provider; none for a passphrase or Pulumi Cloud."""

    def check(self) -> None:
        if not _is_name_part(self.name_prefix) or not _is_name_part(self.stack):
            raise ValueError(
                f"name prefix and stack must be letters, digits, - and _; got {self.name_prefix!r}, {self.stack!r}"
            )
        unknown = sorted(set(self.resource_types) - set(RESOURCE_ACTIONS))
        if unknown or not self.resource_types:
            raise ValueError(f"deployment access needs resource types the action table lists; unknown: {unknown}")


def _is_name_part(text: str) -> bool:
    return bool(text) and text[0].isalnum() and all(c.isalnum() or c in "-_" for c in text)


def granted_calls(access: DeploymentAccess) -> dict[Target, list[str]]:
    """The calls `access` stands for, by target, each action once, in table order."""
    calls: dict[Target, list[str]] = {}
    for resource_type in sorted(set(access.resource_types)):
        actions = RESOURCE_ACTIONS[resource_type]
        for action, target in actions.all if access.write else actions.read:
            if action in SECRET_VALUE_READS and not (access.write or access.secret_values):
                continue
            if action not in calls.setdefault(target, []):
                calls[target].append(action)
    return calls


def deployment_statements(access: DeploymentAccess, scope: AccountScope) -> list[PolicyStatement]:
    """The policy statements of a role with `access`: one or more per target, then the state backend's."""
    access.check()
    names = stack_name_pattern(access.name_prefix, access.stack)
    boundary = scope.function_boundary_arn(access.name_prefix, access.stack)
    statements: list[PolicyStatement] = []
    for target, actions in granted_calls(access).items():
        statements += _target_statements(target, sorted(actions), names, access, scope, boundary)
    if access.write and "aws:iam/role:Role" in access.resource_types:
        statements += _boundary_guards(scope, names, boundary)
    if not access.write:
        statements += ci_access_check_statements(access, scope, boundary)
    return statements + _state_statements(access, scope)


CI_ACCESS_CHECK_ACTIONS = ("iam:GetRolePolicy", "iam:GetPolicy", "iam:GetPolicyVersion")


def ci_access_check_statements(
    access: DeploymentAccess, scope: AccountScope, boundary: pulumi.Output[str]
) -> list[PolicyStatement]:
    """What the plan job reads to check its stack's CI access is what the bootstrap project at its
    commit declares (`tools.ci_access`): the stack's own two CI roles' policies and its boundary."""
    own_roles = [scope.ci_role_arn(access.name_prefix, access.stack, kind) for kind in ("deploy", "read")]
    return [
        PolicyStatement(["iam:GetRolePolicy"], own_roles),
        PolicyStatement(["iam:GetPolicy", "iam:GetPolicyVersion"], [boundary]),
    ]


def _target_statements(
    target: Target,
    actions: list[str],
    names: str,
    access: DeploymentAccess,
    scope: AccountScope,
    boundary: pulumi.Output[str],
) -> list[PolicyStatement]:
    functions = [scope.regional("lambda", f"function:{names}{qualifier}") for qualifier in ("", ":*")]
    roles = [scope.global_("iam", f"role/{names}")]
    match target:
        case "star":
            return [PolicyStatement(actions, ["*"])]
        case "function":
            return [PolicyStatement(actions, functions)]
        case "function-role":
            return [PolicyStatement(actions, roles, {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}})]
        case "role":
            bounded = [action for action in actions if action in BOUNDED_ROLE_WRITES]
            others = [action for action in actions if action not in BOUNDED_ROLE_WRITES]
            with_boundary = {"ArnEquals": {"iam:PermissionsBoundary": boundary}}
            statements = [PolicyStatement(others, roles)] if others else []
            return statements + ([PolicyStatement(bounded, roles, with_boundary)] if bounded else [])
        case "table":
            return [PolicyStatement(actions, [scope.regional("dynamodb", f"table/{names}")])]
        case "dynamodb-default-key":
            by_alias = {"StringEquals": {"kms:RequestAlias": _DYNAMODB_DEFAULT_KEY_ALIAS}}
            return [PolicyStatement(actions, [scope.regional("kms", "key/*")], by_alias)]
        case "log-group":
            # Function and HttpApi name their log groups after the function and the API; some calls
            # name a group with the `:*` of its streams.
            groups = [
                scope.regional("logs", f"log-group:/aws/{kind}/{names}{streams}")
                for kind in ("lambda", "apigateway")
                for streams in ("", ":*")
            ]
            return [PolicyStatement(actions, groups)]
        case "alarm":
            return [PolicyStatement(actions, [scope.regional("cloudwatch", f"alarm:{names}")])]
        case "dashboard":
            return [PolicyStatement(actions, [scope.global_("cloudwatch", f"dashboard/{names}")])]
        case "topic":
            return [PolicyStatement(actions, [scope.regional("sns", names)])]
        case "secret":
            return [PolicyStatement(actions, [scope.regional("secretsmanager", f"secret:{names}-??????")])]
        case "parameter":
            parameters = scope.regional("ssm", f"parameter/{access.name_prefix}/{access.stack}/*")
            return [PolicyStatement(actions, [parameters])]
        case "queue":
            return [PolicyStatement(actions, [scope.regional("sqs", names)])]
        case "event-source-mapping":
            return _event_source_mapping_statements(actions, functions, access.stack, scope)
        case "http-apis":
            by_name = {"StringLike": {"apigateway:Request/ApiName": names}}
            return [PolicyStatement(actions, [scope.api_gateway("/apis")], by_name)]
        case "http-api":
            by_name = {"StringLike": {"apigateway:Resource/ApiName": names}}
            return [PolicyStatement(actions, [scope.api_gateway(f"/apis/{_API_ID}")], by_name)]
        case "http-api-tags":
            return _tag_statements(actions, [scope.api_gateway("/tags/*")], access.stack, "apigateway:POST")
        case "http-api-stage":
            return _stage_statements(actions, access.stack, scope)
        case "http-api-route" | "http-api-integration":
            kind = "routes" if target == "http-api-route" else "integrations"
            paths = [f"/apis/{_API_ID}/{kind}", f"/apis/{_API_ID}/{kind}/*"]
            return [PolicyStatement(actions, [scope.api_gateway(path) for path in paths])]


def _event_source_mapping_statements(
    actions: list[str], functions: list[pulumi.Output[str]], stack: str, scope: AccountScope
) -> list[PolicyStatement]:
    # A mapping's ARN is a random UUID: it is known by the function it feeds, or by its stack tag.
    mappings = [scope.regional("lambda", "event-source-mapping:*")]
    feeds_the_stack = {"ArnLike": {"lambda:FunctionArn": functions}}
    tagging = [
        action for action in actions if action in ("lambda:ListTags", "lambda:TagResource", "lambda:UntagResource")
    ]
    managing = [action for action in actions if action not in tagging]
    statements = []
    if "lambda:CreateEventSourceMapping" in managing:
        statements.append(PolicyStatement(["lambda:CreateEventSourceMapping"], ["*"], feeds_the_stack))
        managing.remove("lambda:CreateEventSourceMapping")
    if managing:
        statements.append(PolicyStatement(managing, mappings, feeds_the_stack))
    return statements + _tag_statements(tagging, mappings, stack, "lambda:TagResource")


def _tag_statements(
    actions: list[str], resources: list[pulumi.Output[str]], stack: str, tag_action: str
) -> list[PolicyStatement]:
    """Tag calls on resources known only by their stack tag: on one that carries it, or, for
    `tag_action`, one being given it (tags set at creation are checked as the request's: the new
    resource has none yet)."""
    if not actions:
        return []
    statements = [PolicyStatement(actions, resources, {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": stack}})]
    if tag_action in actions:
        tagged = {"StringEquals": {f"aws:RequestTag/{STACK_TAG}": stack}}
        statements.append(PolicyStatement([tag_action], resources, tagged))
    return statements


def _stage_statements(actions: list[str], stack: str, scope: AccountScope) -> list[PolicyStatement]:
    # A stage is created in its API's collection with the stack tag, then known by that tag.
    statements = []
    if "apigateway:POST" in actions:
        tagged = {"StringEquals": {f"aws:RequestTag/{STACK_TAG}": stack}}
        statements.append(PolicyStatement(["apigateway:POST"], [scope.api_gateway(f"/apis/{_API_ID}/stages")], tagged))
    existing = [action for action in actions if action != "apigateway:POST"]
    if existing:
        stage = scope.api_gateway(f"/apis/{_API_ID}/stages/*")
        statements.append(PolicyStatement(existing, [stage], {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": stack}}))
    return statements


def _boundary_guards(scope: AccountScope, names: str, boundary: pulumi.Output[str]) -> list[PolicyStatement]:
    """Denials no allowance elsewhere can undo: a role without the boundary, or a boundary loosened."""
    other_boundary = {"ArnNotEquals": {"iam:PermissionsBoundary": boundary}}
    return [
        PolicyStatement(["iam:CreateRole", "iam:PutRolePermissionsBoundary"], ["*"], other_boundary, "Deny"),
        PolicyStatement(["iam:DeleteRolePermissionsBoundary"], ["*"], effect="Deny"),
        PolicyStatement(_BOUNDARY_CHANGES, [boundary], effect="Deny"),
    ]


def function_boundary_statements(name_prefix: str, stack: str, scope: AccountScope) -> list[PolicyStatement]:
    """The most any role the stack's deploy role creates may do: what a function of that stack
    needs from its links (`Table`, `Secret`, `Queue`) and its own log group."""
    names = stack_name_pattern(name_prefix, stack)
    table = scope.regional("dynamodb", f"table/{names}")
    return [
        PolicyStatement(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [scope.regional("logs", f"log-group:/aws/lambda/{names}:log-stream:*")],
        ),
        PolicyStatement([*TABLE_READ_ACTIONS, *TABLE_WRITE_ACTIONS], [table, pulumi.Output.concat(table, "/index/*")]),
        PolicyStatement(
            ["secretsmanager:GetSecretValue"], [scope.regional("secretsmanager", f"secret:{names}-??????")]
        ),
        PolicyStatement(["ssm:GetParameter"], [scope.regional("ssm", f"parameter/{name_prefix}/{stack}/*")]),
        PolicyStatement(sorted({"sqs:SendMessage", *CONSUME_ACTIONS}), [scope.regional("sqs", names)]),
    ]


def _state_statements(access: DeploymentAccess, scope: AccountScope) -> list[PolicyStatement]:
    statements = []
    if access.state_bucket:
        bucket = pulumi.Output.format("arn:{0}:s3:::{1}", scope.partition, access.state_bucket)
        objects = pulumi.Output.concat(bucket, "/*")
        statements += [
            PolicyStatement(actions=["s3:ListBucket"], resources=[bucket]),
            PolicyStatement(actions=["s3:GetObject"], resources=[objects]),
        ]
        # A preview takes no lock on a self-managed backend (only update, refresh, import and
        # destroy do), so a role that only previews writes nothing there.
        if access.write:
            statements.append(PolicyStatement(actions=["s3:DeleteObject", "s3:PutObject"], resources=[objects]))
    if access.state_kms_key_arns:
        actions = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] if access.write else ["kms:Decrypt"]
        statements.append(PolicyStatement(actions=actions, resources=list(access.state_kms_key_arns)))
    return statements
