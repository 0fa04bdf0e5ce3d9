"""The delivery system: GitHub settings of every product repository, and AWS access for this program's own CI."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.aws.deploy_access import AccountScope
from components.github.actions import ActionsSettings, ActionsSettingsArgs
from components.github.deployment_environment import DeploymentEnvironment, DeploymentEnvironmentArgs, Reviewers
from components.github.files import CodeOwnersRule, DependabotUpdate, RepositoryFiles, RepositoryFilesArgs
from components.github.owner import GitHubOwner, GitHubOwnerArgs
from components.github.ruleset import BypassActor, Ruleset, RulesetArgs
from components.github.webhook import Webhook, WebhookArgs
from components.naming import fragment
from stack_config.stacks import deploy_environment, plan_environment, tenants_environment

# The events the orchestrator's GitHub handler acts on (it answers `ping` too, which GitHub sends unasked):
# `ready` labels, and the completion of the workflow runs it dispatched.
ORCHESTRATOR_EVENTS = ("issues", "workflow_run")
# The environment variable the workflows read their environment's role from.
ROLE_VARIABLE = "AWS_ROLE_ARN"


@dataclass(frozen=True)
class DeliveryEnvironment:
    name: str
    reviewers: Reviewers = field(default_factory=Reviewers)
    """One of them approves each job that uses the environment; none means no approval."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    prevent_self_review: bool = True
    default_branch_only: bool = True
    """Only runs of the repository's default branch may use it; False: any branch."""
    wait_timer_minutes: int = 0


@dataclass(frozen=True)
class DeliveredRepository:
    name: str
    """The repository's name within the owner."""
    default_branch: str = "main"
    required_checks: Sequence[str] = ()
    """Check contexts a pull request into the default branch must pass (a workflow job's `name`)."""
    required_approvals: int = 1
    require_last_push_approval: bool = True
    """The last push needs the approval of someone other than who pushed it."""
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
class StackDelivery:
    """One stack the workflows deploy. Its jobs run in two environments of the deploying repository,
    each with a role of its own: `<stack>` gets the deploy role, `<stack>-plan` the read role
    (saved plans, drift checks); both admit only the default branch (`stack_config.stacks`)."""

    guarded: bool = False
    """A guarded stack's deploys wait for a reviewer of its `<stack>` environment."""
    state_bucket: str | None = None
    """The S3 bucket of the stack's self-managed backend (one per stack), if it has one."""
    state_kms_key_arn: str | None = None
    """The KMS key of the stack's `awskms://` secrets provider, if it has one."""
    aws_account_id: str | None = None
    """The AWS account of the stack's resources and CI roles, if not the account this program runs in."""


@dataclass(frozen=True)
class DeliveryArgs:
    github_owner: str
    repositories: Sequence[DeliveredRepository]
    deploying_repository: str
    """The repository (among `repositories`) whose workflows preview and deploy this program: its
    environments get the AWS roles' ARNs as variables, and must exist as the roles' trust expects."""
    orchestrator_webhook_url: pulumi.Input[str]
    orchestrator_webhook_secret: pulumi.Input[str]
    aws_name_prefix: str
    """The prefix of every AWS resource name the program declares (the project's name), and of the
    CI roles the bootstrap project declares for each stack."""
    stacks: Mapping[str, StackDelivery]
    """Every stack the workflows deploy, by name."""
    preview_stack: str = "dev"
    """The stack pull requests preview for real, with its read role, after approval; never a guarded one."""
    preview_environment: str = "preview"
    """Pull requests' preview jobs run in it: any branch, but only once a reviewer approves."""
    github_app_id: int | None = None
    """The GitHub App the workflows act as: rulesets let it commit generated files too."""
    github_token: pulumi.Input[str] | None = None
    """None: the GitHub provider reads `GITHUB_TOKEN`."""


class Delivery(pulumi.ComponentResource):
    role_arns: dict[str, pulumi.Output[str]]
    """`<stack>-deploy` and `<stack>-read` of every stack, to the role's ARN."""

    def __init__(self, name: str, args: DeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:system:Delivery", name, None, opts)
        deploying = _deploying_repository(args)
        child = pulumi.ResourceOptions(parent=self)

        # The bootstrap project declares the roles under the names `ci_role_name` gives, in each
        # stack's account; this program only tells each environment which one its jobs assume.
        here = AccountScope.current(self)
        self.role_arns = {}
        environment_roles: dict[str, pulumi.Output[str]] = {}
        for stack, stack_delivery in args.stacks.items():
            account = (
                here
                if stack_delivery.aws_account_id is None
                else AccountScope(here.partition, stack_delivery.aws_account_id, here.region)
            )
            readers = [plan_environment(stack)]
            if stack == args.preview_stack:
                readers.append(args.preview_environment)
            deploy = account.ci_role_arn(args.aws_name_prefix, stack, "deploy")
            read = account.ci_role_arn(args.aws_name_prefix, stack, "read")
            self.role_arns[f"{stack}-deploy"] = deploy
            self.role_arns[f"{stack}-read"] = read
            environment_roles[deploy_environment(stack)] = deploy
            environment_roles[tenants_environment(stack)] = deploy
            environment_roles |= dict.fromkeys(readers, read)

        owner = GitHubOwner(f"{name}-github", GitHubOwnerArgs(owner=args.github_owner, token=args.github_token), child)
        on_github = pulumi.ResourceOptions(parent=self, provider=owner.provider)
        for delivered in args.repositories:
            roles = environment_roles if delivered is deploying else {}
            self._repository(f"{name}-{fragment(delivered.name)}", delivered, roles, args, on_github)

        self.register_outputs({"role_arns": self.role_arns})

    def _repository(
        self,
        name: str,
        repository: DeliveredRepository,
        environment_roles: Mapping[str, pulumi.Input[str]],
        args: DeliveryArgs,
        opts: pulumi.ResourceOptions,
    ) -> None:
        if repository.secrets or repository.variables:
            ActionsSettings(
                f"{name}-actions",
                ActionsSettingsArgs(
                    repository=repository.name, secrets=repository.secrets, variables=repository.variables
                ),
                opts,
            )
        # The program commits its files straight to the default branch, past the pull-request rule.
        writes_files = bool(repository.codeowners or repository.dependabot)
        ruleset = Ruleset(
            f"{name}-ruleset",
            RulesetArgs(
                repository=repository.name,
                required_checks=repository.required_checks,
                required_approvals=repository.required_approvals,
                require_last_push_approval=repository.require_last_push_approval,
                require_code_owner_review=repository.require_code_owner_review,
                bypass=_file_writers(args) if writes_files else (),
            ),
            opts,
        )
        for spec in repository.environments:
            environment_name = f"{name}-{fragment(spec.name)}"
            environment = DeploymentEnvironment(
                environment_name,
                DeploymentEnvironmentArgs(
                    repository=repository.name,
                    environment=spec.name,
                    reviewers=spec.reviewers,
                    prevent_self_review=spec.prevent_self_review,
                    branches=[repository.default_branch] if spec.default_branch_only else None,
                    wait_timer_minutes=spec.wait_timer_minutes,
                ),
                opts,
            )
            variables = dict(spec.variables)
            if spec.name in environment_roles:
                variables[ROLE_VARIABLE] = environment_roles[spec.name]
            if spec.secrets or variables:
                ActionsSettings(
                    f"{environment_name}-actions",
                    ActionsSettingsArgs(
                        repository=repository.name,
                        environment=environment.name,
                        secrets=spec.secrets,
                        variables=variables,
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
                    after=[ruleset.ruleset],
                ),
                opts,
            )


def _file_writers(args: DeliveryArgs) -> list[BypassActor]:
    """Who commits the generated files past the pull-request rule. The program's GitHub provider
    signs in with the delivery token, whose user manages rulesets and so holds the admin role: that
    role stays a bypass actor, or the program's own commits would be refused. The configured App
    is one too, for what commits as the App."""
    app = [BypassActor.app(args.github_app_id)] if args.github_app_id is not None else []
    return [*app, BypassActor.admins()]


def _deploying_repository(args: DeliveryArgs) -> DeliveredRepository:
    """The deploying repository, checked: its environments are what the roles trust, so each must
    exist and admit only the runs its role is meant for."""
    names = [repository.name.lower() for repository in args.repositories]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"delivery: repositories listed twice: {', '.join(repeated)}")
    matches = [r for r in args.repositories if r.name == args.deploying_repository]
    if not matches:
        raise ValueError(f"delivery: deploying repository {args.deploying_repository!r} is not among the repositories")
    deploying = matches[0]
    if args.preview_stack not in args.stacks:
        raise ValueError(f"delivery: the preview stack {args.preview_stack!r} is not among the stacks")
    if args.stacks[args.preview_stack].guarded:
        raise ValueError(f"delivery: the preview stack {args.preview_stack!r} is guarded; pull requests would read it")
    environments = {environment.name: environment for environment in deploying.environments}

    def require(name: str, reviewed: bool, default_branch_only: bool, why: str) -> None:
        environment = environments.get(name)
        if (
            environment is None
            or (reviewed and not environment.reviewers)
            or (default_branch_only and not environment.default_branch_only)
        ):
            needs = " and ".join(
                ["reviewers"] * reviewed + [f"to admit only {deploying.default_branch}"] * default_branch_only
            )
            raise ValueError(f"delivery: {deploying.name} needs a {name!r} environment with {needs}: {why}")

    for stack, stack_delivery in args.stacks.items():
        require(
            deploy_environment(stack),
            reviewed=stack_delivery.guarded,
            default_branch_only=True,
            why=f"its jobs get the deploy role of {stack}" + (", a guarded stack" if stack_delivery.guarded else ""),
        )
        require(
            tenants_environment(stack),
            reviewed=False,
            default_branch_only=True,
            why=f"its jobs get the deploy role of {stack} to apply tenant plans a wave's gate approved",
        )
        require(
            plan_environment(stack),
            reviewed=False,
            default_branch_only=True,
            why=f"its jobs get the read role of {stack} and its state",
        )
    require(
        args.preview_environment,
        reviewed=True,
        default_branch_only=False,
        why="it runs pull requests' code with a read role and the previewed stack's state",
    )
    if deploying.secrets:
        raise ValueError(
            f"delivery: {deploying.name} has repository secrets ({', '.join(sorted(deploying.secrets))}); "
            "any branch's workflow can read those: give them to an environment"
        )
    taken = [e.name for e in deploying.environments if ROLE_VARIABLE in {v.upper() for v in e.variables}]
    if taken:
        raise ValueError(f"delivery: {ROLE_VARIABLE} of {', '.join(taken)} is set from the roles the program creates")
    return deploying
