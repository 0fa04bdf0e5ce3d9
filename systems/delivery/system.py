"""The delivery system: GitHub settings of every product repository, and AWS access for this program's own CI."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.aws.github_oidc import (
    DeploymentAccess,
    GitHubActionsRole,
    GitHubActionsRoleArgs,
    GitHubOidc,
    GitHubOidcArgs,
    Service,
)
from components.github.actions import ActionsSettings, ActionsSettingsArgs
from components.github.environment import Environment, EnvironmentArgs, Reviewers
from components.github.files import CodeOwnersRule, DependabotUpdate, RepositoryFiles, RepositoryFilesArgs
from components.github.names import fragment
from components.github.owner import GitHubOwner, GitHubOwnerArgs
from components.github.ruleset import Ruleset, RulesetArgs
from components.github.webhook import Webhook, WebhookArgs

# The AWS services the orchestrator's blocks declare resources in: what the deploy role may manage.
PROGRAM_AWS_SERVICES: tuple[Service, ...] = (
    "apigateway",
    "cloudwatch",
    "dynamodb",
    "iam",
    "lambda",
    "logs",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
)
# The events the orchestrator's GitHub handler acts on (it answers `ping` too, which GitHub sends unasked):
# `ready` labels, and the completion of the workflow runs it dispatched.
ORCHESTRATOR_EVENTS = ("issues", "workflow_run")
# The repository variables the workflows read the roles from (preview.yml, pulumi-up.yml).
DEPLOY_ROLE_VARIABLE = "AWS_DEPLOY_ROLE_ARN"
PREVIEW_ROLE_VARIABLE = "AWS_PREVIEW_ROLE_ARN"


@dataclass(frozen=True)
class DeliveryEnvironment:
    name: str
    reviewers: Reviewers = field(default_factory=Reviewers)
    """One of them approves each job that uses the environment; none means no approval."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    prevent_self_review: bool = True
    protected_branches_only: bool = True
    wait_timer_minutes: int = 0


@dataclass(frozen=True)
class DeliveredRepository:
    name: str
    """The repository's name within the owner."""
    default_branch: str = "main"
    required_checks: Sequence[str] = ()
    """Check contexts a pull request into the default branch must pass (a workflow job's `name`)."""
    required_approvals: int = 1
    require_code_owner_review: bool = False
    """Changes to files with CODEOWNERS entries need one of those owners' approval."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Repository-level Actions secrets; each value becomes a Pulumi secret."""
    variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    environments: Sequence[DeliveryEnvironment] = ()
    codeowners: Sequence[CodeOwnersRule] = ()
    dependabot: Sequence[DependabotUpdate] = ()
    sends_issue_events: bool = False
    """Whether the orchestrator's webhook is installed here, so a `ready` issue starts a run."""


@dataclass(frozen=True)
class DeliveryArgs:
    github_owner: str
    repositories: Sequence[DeliveredRepository]
    deploying_repository: str
    """The repository (among `repositories`) whose workflows preview and deploy this program: it
    gets the AWS roles, their ARNs as variables, and must have the deploy environment."""
    orchestrator_webhook_url: pulumi.Input[str]
    orchestrator_webhook_secret: pulumi.Input[str]
    aws_name_prefix: str
    """The prefix of every AWS resource name the program declares (the project's name)."""
    deploy_environment: str = "production"
    """The environment whose jobs deploy beyond the default branch; it must require a reviewer."""
    create_oidc_provider: bool = True
    """False where the AWS account already has GitHub's OIDC provider."""
    state_bucket: str | None = None
    state_kms_key_arn: str | None = None
    github_token: pulumi.Input[str] | None = None
    """None: the GitHub provider reads `GITHUB_TOKEN`."""


class Delivery(pulumi.ComponentResource):
    deploy_role_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:system:Delivery", name, None, opts)
        deploying = _deploying_repository(args)
        child = pulumi.ResourceOptions(parent=self)

        oidc = GitHubOidc(f"{name}-oidc", GitHubOidcArgs(create_provider=args.create_oidc_provider), child)
        full_name = f"{args.github_owner}/{deploying.name}"

        def role(role_name: str, subjects: list[str], write: bool) -> GitHubActionsRole:
            access = DeploymentAccess(
                name_prefix=args.aws_name_prefix,
                services=PROGRAM_AWS_SERVICES,
                write=write,
                oidc_provider_arn=oidc.arn if args.create_oidc_provider else None,
                state_bucket=args.state_bucket,
                state_kms_key_arn=args.state_kms_key_arn,
            )
            return GitHubActionsRole(
                f"{name}-{role_name}-role",
                GitHubActionsRoleArgs(
                    provider_arn=oidc.arn, repository=full_name, subjects=subjects, deployment=access
                ),
                child,
            )

        # Dev deploys from pushes to the default branch; prod from jobs in the deploy environment.
        deploy = role(
            "deploy", [f"environment:{args.deploy_environment}", f"ref:refs/heads/{deploying.default_branch}"], True
        )
        preview = role("preview", ["pull_request"], False)

        owner = GitHubOwner(f"{name}-github", GitHubOwnerArgs(owner=args.github_owner, token=args.github_token), child)
        on_github = pulumi.ResourceOptions(parent=self, provider=owner.provider)
        for repository in args.repositories:
            variables: dict[str, pulumi.Input[str]] = dict(repository.variables)
            if repository is deploying:
                variables |= {DEPLOY_ROLE_VARIABLE: deploy.arn, PREVIEW_ROLE_VARIABLE: preview.arn}
            self._repository(f"{name}-{fragment(repository.name)}", repository, variables, args, on_github)

        self.deploy_role_arn = deploy.arn
        self.preview_role_arn = preview.arn
        self.oidc_provider_arn = oidc.arn
        self.register_outputs(
            {
                "deploy_role_arn": self.deploy_role_arn,
                "preview_role_arn": self.preview_role_arn,
                "oidc_provider_arn": self.oidc_provider_arn,
            }
        )

    def _repository(
        self,
        name: str,
        repository: DeliveredRepository,
        variables: Mapping[str, pulumi.Input[str]],
        args: DeliveryArgs,
        opts: pulumi.ResourceOptions,
    ) -> None:
        if repository.secrets or variables:
            ActionsSettings(
                f"{name}-actions",
                ActionsSettingsArgs(repository=repository.name, secrets=repository.secrets, variables=variables),
                opts,
            )
        # The program commits its files straight to the default branch, past the pull-request rule.
        writes_files = bool(repository.codeowners or repository.dependabot)
        Ruleset(
            f"{name}-ruleset",
            RulesetArgs(
                repository=repository.name,
                required_checks=repository.required_checks,
                required_approvals=repository.required_approvals,
                require_code_owner_review=repository.require_code_owner_review,
                admins_can_bypass=writes_files,
            ),
            opts,
        )
        for spec in repository.environments:
            environment_name = f"{name}-{fragment(spec.name)}"
            environment = Environment(
                environment_name,
                EnvironmentArgs(
                    repository=repository.name,
                    environment=spec.name,
                    reviewers=spec.reviewers,
                    prevent_self_review=spec.prevent_self_review,
                    protected_branches_only=spec.protected_branches_only,
                    wait_timer_minutes=spec.wait_timer_minutes,
                ),
                opts,
            )
            if spec.secrets or spec.variables:
                ActionsSettings(
                    f"{environment_name}-actions",
                    ActionsSettingsArgs(
                        repository=repository.name,
                        environment=environment.name,
                        secrets=spec.secrets,
                        variables=spec.variables,
                    ),
                    opts,
                )
        if repository.sends_issue_events:
            Webhook(
                f"{name}-orchestrator-webhook",
                WebhookArgs(
                    repository=repository.name,
                    url=args.orchestrator_webhook_url,
                    secret=args.orchestrator_webhook_secret,
                    events=ORCHESTRATOR_EVENTS,
                ),
                opts,
            )
        if writes_files:
            RepositoryFiles(
                f"{name}-files",
                RepositoryFilesArgs(
                    repository=repository.name,
                    branch=repository.default_branch,
                    codeowners=repository.codeowners,
                    dependabot=repository.dependabot,
                ),
                opts,
            )


def _deploying_repository(args: DeliveryArgs) -> DeliveredRepository:
    """The deploying repository, checked: the deploy role trusts its deploy environment, so that
    environment must exist, require a reviewer and admit only protected branches."""
    names = [repository.name.lower() for repository in args.repositories]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"delivery: repositories listed twice: {', '.join(repeated)}")
    matches = [r for r in args.repositories if r.name == args.deploying_repository]
    if not matches:
        raise ValueError(f"delivery: deploying repository {args.deploying_repository!r} is not among the repositories")
    deploying = matches[0]
    environments = [e for e in deploying.environments if e.name == args.deploy_environment]
    if not environments or not environments[0].reviewers or not environments[0].protected_branches_only:
        raise ValueError(
            f"delivery: {deploying.name} needs a {args.deploy_environment!r} environment with reviewers, "
            "limited to protected branches: the deploy role trusts it"
        )
    taken = {DEPLOY_ROLE_VARIABLE, PREVIEW_ROLE_VARIABLE} & {v.upper() for v in deploying.variables}
    if taken:
        raise ValueError(f"delivery: {', '.join(sorted(taken))} of {deploying.name} are set from the roles it creates")
    return deploying
