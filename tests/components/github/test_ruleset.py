import pytest

from components.github.ruleset import BypassActor, Ruleset, RulesetArgs
from tools.offline_plan import Plan, evaluate


def plan_ruleset(args: RulesetArgs) -> Plan:
    return evaluate(lambda: Ruleset("orchestra-ruleset", args))


def test_default_branch_needs_reviewed_pull_requests_with_green_checks() -> None:
    plan = plan_ruleset(
        RulesetArgs(repository="orchestra", required_checks=["make test", "lint"], required_approvals=2)
    )
    component = plan.one("orchestra:github:Ruleset", "orchestra-ruleset")
    (ruleset,) = plan.children_of(component.urn)
    assert ruleset.type == "github:index/repositoryRuleset:RepositoryRuleset"
    assert ruleset.inputs == {
        "name": "default branch",
        "repository": "orchestra",
        "target": "branch",
        "enforcement": "active",
        "conditions": {"refName": {"includes": ["~DEFAULT_BRANCH"], "excludes": []}},
        "rules": {
            "deletion": True,
            "nonFastForward": True,
            "pullRequest": {
                "requiredApprovingReviewCount": 2,
                "dismissStaleReviewsOnPush": True,
                "requireLastPushApproval": True,
                "requireCodeOwnerReview": False,
            },
            "requiredStatusChecks": {
                "requiredChecks": [{"context": "make test"}, {"context": "lint"}],
                "strictRequiredStatusChecksPolicy": True,
            },
        },
    }


def test_without_checks_there_is_no_status_check_rule_and_admins_may_bypass_when_asked() -> None:
    plan = plan_ruleset(RulesetArgs(repository="image-gen", bypass=[BypassActor.admins()]))
    inputs = plan.one("github:index/repositoryRuleset:RepositoryRuleset", "orchestra-ruleset").inputs
    assert "requiredStatusChecks" not in inputs["rules"]
    assert inputs["bypassActors"] == [{"actorType": "RepositoryRole", "actorId": 5, "bypassMode": "always"}]


def test_a_github_app_bypasses_as_an_integration() -> None:
    plan = plan_ruleset(RulesetArgs(repository="image-gen", bypass=[BypassActor.app(987654)]))
    inputs = plan.one("github:index/repositoryRuleset:RepositoryRuleset", "orchestra-ruleset").inputs
    assert inputs["bypassActors"] == [{"actorType": "Integration", "actorId": 987654, "bypassMode": "always"}]


def test_nobody_bypasses_unless_named() -> None:
    inputs = (
        plan_ruleset(RulesetArgs(repository="r"))
        .one("github:index/repositoryRuleset:RepositoryRuleset", "orchestra-ruleset")
        .inputs
    )
    assert "bypassActors" not in inputs
    with pytest.raises(ValueError, match="App id"):
        BypassActor.app(0)


@pytest.mark.parametrize(
    "args",
    [
        RulesetArgs(repository="r", required_approvals=11),
        RulesetArgs(repository="r", required_checks=["test", "test"]),
        RulesetArgs(repository="r", required_checks=[" "]),
        RulesetArgs(repository="r", bypass=[BypassActor.admins(), BypassActor.admins()]),
    ],
)
def test_impossible_rules_are_refused(args: RulesetArgs) -> None:
    with pytest.raises(ValueError, match="ruleset orchestra-ruleset"):
        plan_ruleset(args)
