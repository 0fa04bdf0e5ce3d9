"""A ruleset on a repository's default branch: changes arrive by reviewed pull request with green checks."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_github as github

# The id of the base `admin` role as a ruleset bypass actor (the provider's docs: maintain 2, write 4, admin 5).
_ADMIN_ROLE_ID = 5
MAX_REQUIRED_APPROVALS = 10


@dataclass(frozen=True)
class BypassActor:
    """Who may push past the rules, as GitHub's rulesets name actors."""

    actor_type: Literal["Integration", "RepositoryRole"]
    actor_id: int

    @classmethod
    def app(cls, app_id: int) -> "BypassActor":
        """A GitHub App, by its App id: only tokens of that App."""
        if app_id < 1:
            raise ValueError(f"a GitHub App id is a positive number, got {app_id}")
        return cls("Integration", app_id)

    @classmethod
    def admins(cls) -> "BypassActor":
        """Everyone with the repository's admin role."""
        return cls("RepositoryRole", _ADMIN_ROLE_ID)


@dataclass(frozen=True)
class RulesetArgs:
    repository: pulumi.Input[str]
    required_checks: Sequence[str] = ()
    """Status check contexts that must pass, as GitHub names them: a workflow job's `name`
    (e.g. `make test`), or `<job name> (<matrix values>)` for a matrix job."""
    required_approvals: int = 1
    dismiss_stale_reviews: bool = True
    """A push after an approval dismisses it, so what merges is what was approved."""
    require_last_push_approval: bool = True
    """The last push must be approved by someone other than who pushed it: nobody merges their
    own unreviewed commit on top of someone else's approval."""
    require_code_owner_review: bool = False
    """Changes to files with a CODEOWNERS entry need one of those owners' approval."""
    require_up_to_date: bool = True
    """Checks must have passed on the branch as merged with the latest default branch."""
    bypass: Sequence[BypassActor] = ()
    """Who may push past the rules: needed when the program itself commits to the default branch
    (CODEOWNERS, dependabot.yml), with no pull request, as whoever its GitHub provider signs in as.
    None by default."""
    ruleset_name: str = "default branch"


class Ruleset(pulumi.ComponentResource):
    """`RepositoryRuleset` targeting `~DEFAULT_BRANCH`, enforced: pull requests with the required
    approvals (the last push approved by someone else), required status checks, no force pushes,
    no deletion."""

    ruleset: github.RepositoryRuleset

    def __init__(self, name: str, args: RulesetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:github:Ruleset", name, None, opts)
        if not 0 <= args.required_approvals <= MAX_REQUIRED_APPROVALS:
            raise ValueError(f"ruleset {name}: required approvals must be 0-{MAX_REQUIRED_APPROVALS}")
        if len(set(args.bypass)) != len(args.bypass):
            raise ValueError(f"ruleset {name}: a bypass actor is named twice")
        duplicated = sorted({check for check in args.required_checks if args.required_checks.count(check) > 1})
        if duplicated or any(not check.strip() for check in args.required_checks):
            raise ValueError(f"ruleset {name}: required checks must be distinct and non-empty: {duplicated}")

        status_checks = (
            github.RepositoryRulesetRulesRequiredStatusChecksArgs(
                required_checks=[
                    github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs(context=check)
                    for check in args.required_checks
                ],
                strict_required_status_checks_policy=args.require_up_to_date,
            )
            if args.required_checks
            else None
        )
        self.ruleset = github.RepositoryRuleset(
            name,
            name=args.ruleset_name,
            repository=args.repository,
            target="branch",
            enforcement="active",
            conditions=github.RepositoryRulesetConditionsArgs(
                ref_name=github.RepositoryRulesetConditionsRefNameArgs(includes=["~DEFAULT_BRANCH"], excludes=[])
            ),
            bypass_actors=[
                github.RepositoryRulesetBypassActorArgs(
                    actor_type=actor.actor_type, actor_id=actor.actor_id, bypass_mode="always"
                )
                for actor in args.bypass
            ]
            or None,
            rules=github.RepositoryRulesetRulesArgs(
                deletion=True,
                non_fast_forward=True,
                pull_request=github.RepositoryRulesetRulesPullRequestArgs(
                    required_approving_review_count=args.required_approvals,
                    dismiss_stale_reviews_on_push=args.dismiss_stale_reviews,
                    require_last_push_approval=args.require_last_push_approval,
                    require_code_owner_review=args.require_code_owner_review,
                ),
                required_status_checks=status_checks,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"required_checks": list(args.required_checks)})
