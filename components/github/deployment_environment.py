"""A deployment environment: who must approve a job that uses it, and which branches may deploy to it."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_github as github

from components.naming import fragment

# GitHub's limits: six reviewers (people and teams together); a wait timer of at most 30 days.
MAX_REVIEWERS = 6
MAX_WAIT_TIMER_MINUTES = 43_200


@dataclass(frozen=True)
class Reviewers:
    users: Sequence[str] = ()
    """GitHub logins; resolved here to the numeric ids the API takes."""
    teams: Sequence[str] = ()
    """Team slugs in the provider's organisation; resolved here to their numeric ids."""

    def __bool__(self) -> bool:
        return bool(self.users or self.teams)


@dataclass(frozen=True)
class DeploymentEnvironmentArgs:
    repository: pulumi.Input[str]
    environment: str
    reviewers: Reviewers = field(default_factory=Reviewers)
    """One of them must approve each job that uses the environment; none means no approval."""
    prevent_self_review: bool = True
    """Whoever started the run cannot approve it (GitHub's default is off)."""
    admins_can_bypass: bool = False
    """GitHub's default is on, which lets any repository admin skip the approval."""
    branches: Sequence[str] | None = None
    """The branches (name patterns) whose runs may use the environment; None: every branch. Named
    rather than "protected branches", which GitHub opens to every branch when none is protected."""
    wait_timer_minutes: int = 0
    """Delay before an approved job starts; 0 for none."""


class DeploymentEnvironment(pulumi.ComponentResource):
    environment: github.RepositoryEnvironment
    name: pulumi.Output[str]
    """The environment's name, as an output: secrets and variables set with it wait for it."""
    user_ids: list[pulumi.Output[int]]
    team_ids: list[pulumi.Output[int]]

    def __init__(self, name: str, args: DeploymentEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:github:DeploymentEnvironment", name, None, opts)
        reviewer_count = len(args.reviewers.users) + len(args.reviewers.teams)
        if reviewer_count > MAX_REVIEWERS:
            raise ValueError(f"environment {name}: {reviewer_count} reviewers; GitHub allows {MAX_REVIEWERS}")
        if args.branches is not None and (not args.branches or any(not branch.strip() for branch in args.branches)):
            raise ValueError(f"environment {name}: branches must be None (every branch) or non-empty names")
        if not 0 <= args.wait_timer_minutes <= MAX_WAIT_TIMER_MINUTES:
            raise ValueError(f"environment {name}: wait timer must be 0-{MAX_WAIT_TIMER_MINUTES} minutes")
        lookup = pulumi.InvokeOutputOptions(parent=self)
        # The lookups return ids as text; the environment's reviewers are numbers.
        self.user_ids = [
            github.get_user_output(username=login, opts=lookup).id.apply(int) for login in args.reviewers.users
        ]
        self.team_ids = [github.get_team_output(slug=slug, opts=lookup).id.apply(int) for slug in args.reviewers.teams]

        self.environment = github.RepositoryEnvironment(
            name,
            repository=args.repository,
            environment=args.environment,
            reviewers=[github.RepositoryEnvironmentReviewerArgs(users=self.user_ids, teams=self.team_ids)]
            if args.reviewers
            else None,
            prevent_self_review=args.prevent_self_review,
            can_admins_bypass=args.admins_can_bypass,
            wait_timer=args.wait_timer_minutes or None,
            deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                protected_branches=False, custom_branch_policies=True
            )
            if args.branches is not None
            else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = self.environment.environment
        for branch in args.branches or ():
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{name}-branch-{fragment(branch)}",
                repository=args.repository,
                environment=self.name,
                branch_pattern=branch,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"name": self.name})
