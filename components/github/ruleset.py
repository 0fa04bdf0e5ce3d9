"""A ruleset on a repository's default branch: changes arrive by reviewed pull request with green checks."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_github as github

# The id of the base `admin` role as a ruleset bypass actor (the provider's docs: maintain 2, write 4, admin 5).
_ADMIN_ROLE_ID = 5
MAX_REQUIRED_APPROVALS = 10


@dataclass(frozen=True)
class RulesetArgs:
    repository: pulumi.Input[str]
    required_checks: Sequence[str] = ()
    """Status check contexts that must pass, as GitHub names them: a workflow job's `name`
    (e.g. `make test`), or `<job name> (<matrix values>)` for a matrix job."""
    required_approvals: int = 1
    dismiss_stale_reviews: bool = True
    """A push after an approval dismisses it, so what merges is what was approved."""
    require_code_owner_review: bool = False
    """Changes to files with a CODEOWNERS entry need one of those owners' approval."""
    require_up_to_date: bool = True
    """Checks must have passed on the branch as merged with the latest default branch."""
    admins_can_bypass: bool = False
    """Repository admins may push past the rules. Needed when the program itself commits to the
    default branch (CODEOWNERS, dependabot.yml): its token is an admin's and there is no pull request."""
    ruleset_name: str = "default branch"


class Ruleset(pulumi.ComponentResource):
    """`RepositoryRuleset` targeting `~DEFAULT_BRANCH`, enforced: pull requests with the required
    approvals, required status checks, no force pushes, no deletion."""

    ruleset: github.RepositoryRuleset

    def __init__(self, name: str, args: RulesetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:github:Ruleset", name, None, opts)
        if not 0 <= args.required_approvals <= MAX_REQUIRED_APPROVALS:
            raise ValueError(f"ruleset {name}: required approvals must be 0-{MAX_REQUIRED_APPROVALS}")
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
                    actor_type="RepositoryRole", actor_id=_ADMIN_ROLE_ID, bypass_mode="always"
                )
            ]
            if args.admins_can_bypass
            else None,
            rules=github.RepositoryRulesetRulesArgs(
                deletion=True,
                non_fast_forward=True,
                pull_request=github.RepositoryRulesetRulesPullRequestArgs(
                    required_approving_review_count=args.required_approvals,
                    dismiss_stale_reviews_on_push=args.dismiss_stale_reviews,
                    require_code_owner_review=args.require_code_owner_review,
                ),
                required_status_checks=status_checks,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"required_checks": list(args.required_checks)})
