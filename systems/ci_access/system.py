"""One stack's CI access to AWS: GitHub's OIDC provider, the stack's deploy and read roles, and
the permissions boundary every role the deploy role creates must carry.

The bootstrap project (`bootstrap/`) declares it, one bootstrap stack per stack of the program,
applied by an administrator. The program itself never declares or changes any of it, so an
approved plan can never stop half-applied on a role change the deploy role is not allowed to
make; the program only computes the roles' ARNs (`AccountScope.ci_role_arn`) for the GitHub
environments' variables.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.deploy_access import (
    CI_ROLE_PATH,
    AccountScope,
    DeploymentAccess,
    ci_role_name,
    function_boundary_name,
    function_boundary_statements,
)
from components.aws.github_oidc import (
    GitHubActionsRole,
    GitHubActionsRoleArgs,
    GitHubOidc,
    GitHubOidcArgs,
    GitHubRepository,
)
from components.aws.link import policy_document
from components.aws.resource_actions import LAMBDA_ROLLOUT_TYPE

# The AWS resource types the program's stacks declare (the orchestrator's building blocks): what
# the deploy role may create, change and delete, and the read role read. A test holds it equal to
# each shipped stack's plan; a stack that also declares others (SSM parameters with
# `secretStore: ssm`, an SNS subscription with `alarmEmail`) lists them in its bootstrap stack's
# `extraResourceTypes`.
PROGRAM_AWS_RESOURCE_TYPES = (
    "aws:apigatewayv2/api:Api",
    "aws:apigatewayv2/integration:Integration",
    "aws:apigatewayv2/route:Route",
    "aws:apigatewayv2/stage:Stage",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:dynamodb/table:Table",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:lambda/function:Function",
    "aws:lambda/permission:Permission",
    "aws:secretsmanager/secret:Secret",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:sns/topic:Topic",
    "aws:sqs/queue:Queue",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    LAMBDA_ROLLOUT_TYPE,
)


@dataclass(frozen=True)
class CiAccessArgs:
    name_prefix: str
    """The program's name prefix (its project name), which its resources' and roles' names start with."""
    stack: str
    repository: GitHubRepository
    deploy_environments: Sequence[str]
    """The GitHub environments whose jobs get the deploy role: the stack's own and its tenants'."""
    read_environments: Sequence[str]
    """The environments whose jobs get the read role (saved plans, drift checks, previews)."""
    resource_types: Sequence[str] = PROGRAM_AWS_RESOURCE_TYPES
    create_oidc_provider: bool = True
    """An account holds one provider per URL: False for the second stack of a shared account."""
    state_bucket: str | None = None
    state_kms_key_arn: str | None = None


class CiAccess(pulumi.ComponentResource):
    deploy_role_arn: pulumi.Output[str]
    read_role_arn: pulumi.Output[str]
    functions_boundary_arn: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CiAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:system:CiAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        scope = AccountScope.current(self)
        oidc = GitHubOidc(f"{name}-oidc", GitHubOidcArgs(create_provider=args.create_oidc_provider), child)
        boundary = aws.iam.Policy(
            f"{name}-functions-boundary",
            name=function_boundary_name(args.name_prefix, args.stack),
            path=CI_ROLE_PATH,
            description=f"The most a role the {args.stack} deploy role creates may do",
            policy=policy_document(function_boundary_statements(args.name_prefix, args.stack, scope)),
            opts=child,
        )

        def role(kind: str, environments: Sequence[str], write: bool) -> GitHubActionsRole:
            access = DeploymentAccess(
                name_prefix=args.name_prefix,
                stack=args.stack,
                resource_types=args.resource_types,
                write=write,
                secret_values=True,
                state_bucket=args.state_bucket,
                state_kms_key_arns=[args.state_kms_key_arn] if args.state_kms_key_arn else [],
            )
            return GitHubActionsRole(
                f"{name}-{kind}-role",
                GitHubActionsRoleArgs(
                    provider_arn=oidc.arn,
                    role_name=ci_role_name(args.name_prefix, args.stack, kind),
                    repository=args.repository,
                    subjects=[f"environment:{environment}" for environment in environments],
                    deployment=access,
                    description=f"GitHub Actions of {args.repository.owner}/{args.repository.name}: "
                    f"{kind} {args.stack}",
                ),
                # The deploy role refers to the boundary by its ARN: it must exist before a deploy runs.
                pulumi.ResourceOptions(parent=self, depends_on=[boundary]),
            )

        deploy = role("deploy", args.deploy_environments, write=True)
        read = role("read", args.read_environments, write=False)
        self.deploy_role_arn = deploy.arn
        self.read_role_arn = read.arn
        self.functions_boundary_arn = boundary.arn
        self.oidc_provider_arn = oidc.arn
        self.register_outputs(
            {
                "deploy_role_arn": self.deploy_role_arn,
                "read_role_arn": self.read_role_arn,
                "functions_boundary_arn": self.functions_boundary_arn,
                "oidc_provider_arn": self.oidc_provider_arn,
            }
        )
