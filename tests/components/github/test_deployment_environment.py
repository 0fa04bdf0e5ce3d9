import pytest

from components.github.deployment_environment import DeploymentEnvironment, DeploymentEnvironmentArgs, Reviewers
from tools.offline_plan import Plan, evaluate
from tools.offline_plan.mock_outputs import github_id


def plan_environment(args: DeploymentEnvironmentArgs) -> Plan:
    return evaluate(lambda: DeploymentEnvironment("orchestra-production", args))


def test_reviewers_are_resolved_to_ids_and_only_the_named_branch_deploys() -> None:
    plan = plan_environment(
        DeploymentEnvironmentArgs(
            repository="orchestra",
            environment="production",
            reviewers=Reviewers(users=["alice", "bob"], teams=["platform"]),
            branches=["main"],
            wait_timer_minutes=5,
        )
    )
    component = plan.one("orchestra:github:DeploymentEnvironment", "orchestra-production")
    environment, policy = sorted(plan.children_of(component.urn), key=lambda r: r.type)
    assert environment.type == "github:index/repositoryEnvironment:RepositoryEnvironment"
    # "Protected branches" admits every branch of a repository with no protected branch: the
    # branch is named instead.
    assert policy.type == "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
    assert (policy.name, policy.inputs) == (
        "orchestra-production-branch-main",
        {"repository": "orchestra", "environment": "production", "branchPattern": "main"},
    )
    assert environment.inputs == {
        "repository": "orchestra",
        "environment": "production",
        "reviewers": [
            {"users": [github_id("user", "alice"), github_id("user", "bob")], "teams": [github_id("team", "platform")]}
        ],
        "preventSelfReview": True,
        "canAdminsBypass": False,
        "waitTimer": 5,
        "deploymentBranchPolicy": {"protectedBranches": False, "customBranchPolicies": True},
    }


def test_an_environment_without_reviewers_or_branch_limits() -> None:
    plan = plan_environment(DeploymentEnvironmentArgs(repository="image-gen", environment="preview"))
    inputs = plan.one("github:index/repositoryEnvironment:RepositoryEnvironment", "orchestra-production").inputs
    assert (
        plan.of_type("github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy") == []
    )
    assert "reviewers" not in inputs
    assert "deploymentBranchPolicy" not in inputs
    assert "waitTimer" not in inputs


def test_github_limits_are_checked_before_anything_is_sent() -> None:
    seven = Reviewers(users=[f"user{i}" for i in range(4)], teams=["a", "b", "c"])
    with pytest.raises(ValueError, match="7 reviewers"):
        plan_environment(DeploymentEnvironmentArgs(repository="r", environment="production", reviewers=seven))
    with pytest.raises(ValueError, match="branches"):
        plan_environment(DeploymentEnvironmentArgs(repository="r", environment="production", branches=[]))
    with pytest.raises(ValueError, match="wait timer"):
        plan_environment(DeploymentEnvironmentArgs(repository="r", environment="production", wait_timer_minutes=43_201))
