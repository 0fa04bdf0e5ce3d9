import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pulumi
import pytest

from components.github.deployment_environment import Reviewers
from components.github.files import CodeOwnersRule, DependabotUpdate, codeowners_content, dependabot_content
from systems.delivery.system import (
    DeliveredRepository,
    Delivery,
    DeliveryArgs,
    DeliveryEnvironment,
    StackDelivery,
)
from systems.orchestrator.system import Orchestrator
from tests.systems.orchestrator.test_system import args as orchestrator_args
from tools.offline_plan import SECRET, Plan, evaluate
from tools.offline_plan.mock_outputs import github_id

ROOT = Path(__file__).resolve().parents[3]
WEBHOOK_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/github/webhook"
# Values that must never reach a plan in plain text.
PLAIN_SECRETS = ("pulumi-token-value", "cloudflare-token-value", "ideogram-key-value", "webhook-hmac-value")
CODEOWNERS = [CodeOwnersRule("*", ["@acme/platform"])]
DEPENDABOT = [DependabotUpdate("npm"), DependabotUpdate("github-actions")]


REVIEWERS = Reviewers(users=["alice"], teams=["platform"])
ORCHESTRA_ENVIRONMENTS = ("preview", "dev", "dev-plan", "dev-tenants", "prod", "prod-plan", "prod-tenants")


def orchestra_environments() -> dict[str, DeliveryEnvironment]:
    """The deploying repository's environments, as the checks want them."""
    return {
        "preview": DeliveryEnvironment("preview", reviewers=REVIEWERS, default_branch_only=False),
        "dev": DeliveryEnvironment("dev"),
        "dev-plan": DeliveryEnvironment("dev-plan"),
        "dev-tenants": DeliveryEnvironment("dev-tenants"),
        "prod": DeliveryEnvironment(
            "prod",
            reviewers=REVIEWERS,
            secrets={"PULUMI_ACCESS_TOKEN": pulumi.Output.secret("pulumi-token-value")},
        ),
        "prod-plan": DeliveryEnvironment("prod-plan"),
        "prod-tenants": DeliveryEnvironment("prod-tenants"),
    }


STACKS = {"dev": StackDelivery(), "prod": StackDelivery(guarded=True)}


def repositories(**replaced: DeliveryEnvironment | None) -> list[DeliveredRepository]:
    """Built inside the program: outputs belong to the run that creates them. Keyword arguments
    replace (or, given None, drop) environments of the deploying repository."""
    cloudflare_token = pulumi.Output.from_input("cloudflare-token-value")  # e.g. a token the program creates
    environments = {**orchestra_environments(), **replaced}
    return [
        DeliveredRepository(
            name="orchestra",
            required_checks=["make test"],
            environments=[environment for environment in environments.values() if environment is not None],
        ),
        DeliveredRepository(
            name="image-gen",
            required_checks=["test", "lint"],
            required_approvals=2,
            require_last_push_approval=False,
            secrets={"CLOUDFLARE_API_TOKEN": cloudflare_token},
            variables={"CLOUDFLARE_ACCOUNT_ID": "0123abcd"},
            environments=[
                DeliveryEnvironment(
                    "production",
                    reviewers=Reviewers(users=["bob"]),
                    secrets={"IDEOGRAM_API_KEY": "ideogram-key-value"},
                ),
            ],
            codeowners=CODEOWNERS,
            dependabot=DEPENDABOT,
            sends_issue_events=True,
        ),
    ]


def delivery_args(**changes: object) -> DeliveryArgs:
    args = DeliveryArgs(
        github_owner="acme",
        repositories=repositories(),
        deploying_repository="orchestra",
        orchestrator_webhook_url=pulumi.Output.from_input(WEBHOOK_URL),
        orchestrator_webhook_secret=pulumi.Output.secret("webhook-hmac-value"),
        aws_name_prefix="orchestra",
        stacks=STACKS,
    )
    return dataclasses.replace(args, **changes)


def plan_delivery(stack: str, **changes: object) -> Plan:
    return evaluate(lambda: Delivery("delivery", delivery_args(**changes)), stack=stack)


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return plan_delivery(request.param)


def test_children(plan: Plan) -> None:
    system = plan.one("orchestra:system:Delivery", "delivery")
    environments = [
        ("orchestra:github:DeploymentEnvironment", f"delivery-orchestra-{environment}")
        for environment in ORCHESTRA_ENVIRONMENTS
    ]
    # Every environment of the deploying repository that a role trusts gets its AWS_ROLE_ARN.
    settings = [
        ("orchestra:github:ActionsSettings", f"delivery-orchestra-{environment}-actions")
        for environment in ORCHESTRA_ENVIRONMENTS
    ]
    assert sorted((r.type, r.name) for r in plan.children_of(system.urn)) == sorted(
        [
            ("orchestra:github:ActionsSettings", "delivery-image-gen-actions"),
            ("orchestra:github:ActionsSettings", "delivery-image-gen-production-actions"),
            ("orchestra:github:DeploymentEnvironment", "delivery-image-gen-production"),
            ("orchestra:github:Owner", "delivery-github"),
            ("orchestra:github:RepositoryFiles", "delivery-image-gen-files"),
            ("orchestra:github:Ruleset", "delivery-image-gen-ruleset"),
            ("orchestra:github:Ruleset", "delivery-orchestra-ruleset"),
            ("orchestra:github:Webhook", "delivery-image-gen-orchestrator-webhook"),
            *environments,
            *settings,
        ]
    )


def test_every_github_resource_uses_the_owners_provider(plan: Plan) -> None:
    provider = plan.one("pulumi:providers:github", "delivery-github")
    assert provider.inputs["owner"] == "acme"
    github = [r for r in plan.resources if r.custom and r.type.startswith("github:")]
    assert github
    # A provider reference is `<urn>::<id>`.
    assert {(r.provider or "").rsplit("::", 1)[0] for r in github} == {provider.urn}


def test_every_secret_value_is_a_secret(plan: Plan) -> None:
    secrets = plan.of_type("github:index/actionsSecret:ActionsSecret") + plan.of_type(
        "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"
    )
    assert sorted(s.inputs["secretName"] for s in secrets) == [
        "CLOUDFLARE_API_TOKEN",
        "IDEOGRAM_API_KEY",
        "PULUMI_ACCESS_TOKEN",
    ]
    assert all(s.inputs["value"] == SECRET for s in secrets)
    assert not any("plaintextValue" in s.inputs for s in secrets)
    environment_secrets = plan.of_type("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")
    assert sorted((s.inputs["repository"], s.inputs["environment"]) for s in environment_secrets) == [
        ("image-gen", "production"),
        ("orchestra", "prod"),
    ]
    assert plan.unmarked_secrets == ()
    assert not [value for value in PLAIN_SECRETS if value in plan.to_json()]


def test_webhook_url_and_secret_come_from_the_orchestrator(plan: Plan) -> None:
    (webhook,) = plan.of_type("github:index/repositoryWebhook:RepositoryWebhook")
    assert webhook.inputs["repository"] == "image-gen"
    assert webhook.inputs["events"] == ["issues", "workflow_run"]
    assert webhook.inputs["configuration"] == {
        "url": WEBHOOK_URL,
        "secret": SECRET,
        "contentType": "json",
        "insecureSsl": False,
    }


def test_webhook_follows_the_orchestrator_system_outputs() -> None:
    """Wired as `__main__` wires it: the URL and the secret are the orchestrator's outputs."""

    def program() -> None:
        orchestrator = Orchestrator("orchestrator", orchestrator_args(protect=False))
        pulumi.export("githubWebhookUrl", orchestrator.github_webhook_url)
        Delivery(
            "delivery",
            delivery_args(
                orchestrator_webhook_url=orchestrator.github_webhook_url,
                orchestrator_webhook_secret=orchestrator.github_webhook_secret,
            ),
        )

    plan = evaluate(program)
    (webhook,) = plan.of_type("github:index/repositoryWebhook:RepositoryWebhook")
    assert webhook.inputs["configuration"]["url"] == plan.outputs["githubWebhookUrl"]
    assert plan.outputs["githubWebhookUrl"].endswith("/github/webhook")
    assert webhook.inputs["configuration"]["secret"] == SECRET
    # The secret is the one the orchestrator generated (and stores for its handler), not a copy.
    generated = plan.one("random:index/randomPassword:RandomPassword", "orchestrator-generated-webhook-secret")
    assert generated.urn in webhook.dependencies


def test_the_program_declares_no_iam_and_no_oidc_provider(plan: Plan) -> None:
    """The CI roles and the provider belong to the bootstrap project: an approved plan never
    changes what the deploy role may not change, so it never stops half-applied."""
    assert [r.type for r in plan.resources if r.type.startswith("aws:")] == []


def test_role_arns_are_the_environment_variables_the_workflows_read(plan: Plan) -> None:
    variables = {
        (v.inputs["environment"], v.inputs["variableName"]): v.inputs["value"]
        for v in plan.of_type("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
        if v.inputs["repository"] == "orchestra"
    }

    # Each value is the ARN of the role the bootstrap stack of that stack declares.
    role = "arn:aws:iam::123456789012:role/github-actions/orchestra-ci"
    assert variables == {
        ("preview", "AWS_ROLE_ARN"): f"{role}-read-dev",
        ("dev", "AWS_ROLE_ARN"): f"{role}-deploy-dev",
        ("dev-plan", "AWS_ROLE_ARN"): f"{role}-read-dev",
        ("dev-tenants", "AWS_ROLE_ARN"): f"{role}-deploy-dev",
        ("prod", "AWS_ROLE_ARN"): f"{role}-deploy-prod",
        ("prod-plan", "AWS_ROLE_ARN"): f"{role}-read-prod",
        ("prod-tenants", "AWS_ROLE_ARN"): f"{role}-deploy-prod",
    }
    # No repository variable names a role: a job outside these environments gets none.
    assert not [
        v for v in plan.of_type("github:index/actionsVariable:ActionsVariable") if v.inputs["repository"] == "orchestra"
    ]
    workflows = "".join(p.read_text() for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert "vars.AWS_ROLE_ARN" in workflows


def test_environments_admit_only_the_runs_their_roles_are_for(plan: Plan) -> None:
    environments = {
        (r.inputs["repository"], r.inputs["environment"]): r.inputs
        for r in plan.of_type("github:index/repositoryEnvironment:RepositoryEnvironment")
    }
    branches = {
        (r.inputs["repository"], r.inputs["environment"]): r.inputs["branchPattern"]
        for r in plan.of_type(
            "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
        )
    }
    reviewed = [{"users": [github_id("user", "alice")], "teams": [github_id("team", "platform")]}]
    for name in ("preview", "prod"):
        assert environments[("orchestra", name)]["reviewers"] == reviewed
    for name in ("dev", "dev-plan", "dev-tenants", "prod-plan", "prod-tenants"):
        assert "reviewers" not in environments[("orchestra", name)]
    # Every environment but preview admits only the default branch; preview admits pull requests.
    admitting_main = ("dev", "dev-plan", "dev-tenants", "prod", "prod-plan", "prod-tenants")
    assert branches == {("orchestra", name): "main" for name in admitting_main} | {("image-gen", "production"): "main"}
    assert "deploymentBranchPolicy" not in environments[("orchestra", "preview")]
    assert environments[("image-gen", "production")]["reviewers"] == [
        {"users": [github_id("user", "bob")], "teams": []}
    ]
    for environment in environments.values():
        assert environment["canAdminsBypass"] is False


def test_rulesets_require_the_checks_and_reviews(plan: Plan) -> None:
    rulesets = {
        r.inputs["repository"]: r.inputs for r in plan.of_type("github:index/repositoryRuleset:RepositoryRuleset")
    }
    orchestra, image_gen = rulesets["orchestra"], rulesets["image-gen"]
    assert orchestra["rules"]["requiredStatusChecks"]["requiredChecks"] == [{"context": "make test"}]
    assert orchestra["rules"]["pullRequest"]["requiredApprovingReviewCount"] == 1
    assert image_gen["rules"]["requiredStatusChecks"]["requiredChecks"] == [{"context": "test"}, {"context": "lint"}]
    assert image_gen["rules"]["pullRequest"]["requiredApprovingReviewCount"] == 2
    assert orchestra["rules"]["pullRequest"]["requireLastPushApproval"] is True
    assert image_gen["rules"]["pullRequest"]["requireLastPushApproval"] is False
    for ruleset in rulesets.values():
        assert ruleset["conditions"]["refName"]["includes"] == ["~DEFAULT_BRANCH"]
        assert ruleset["rules"]["pullRequest"]["dismissStaleReviewsOnPush"] is True
        assert (ruleset["rules"]["deletion"], ruleset["rules"]["nonFastForward"]) == (True, True)
    # Only the repository whose files the program commits lets its writer past the rules.
    assert "bypassActors" not in orchestra
    assert image_gen["bypassActors"] == [{"actorType": "RepositoryRole", "actorId": 5, "bypassMode": "always"}]


@pytest.mark.parametrize(
    ("app_id", "bypass"),
    [
        (None, [{"actorType": "RepositoryRole", "actorId": 5, "bypassMode": "always"}]),
        (
            987654,
            [
                {"actorType": "Integration", "actorId": 987654, "bypassMode": "always"},
                # The provider commits with the delivery token: its user's admin role must stay.
                {"actorType": "RepositoryRole", "actorId": 5, "bypassMode": "always"},
            ],
        ),
    ],
)
def test_the_provider_can_commit_the_files_past_the_ruleset_created_before_them(
    app_id: int | None, bypass: list[dict[str, object]]
) -> None:
    plan = plan_delivery("prod", github_app_id=app_id)
    rulesets = {r.inputs["repository"]: r for r in plan.of_type("github:index/repositoryRuleset:RepositoryRuleset")}
    assert rulesets["image-gen"].inputs["bypassActors"] == bypass
    assert "bypassActors" not in rulesets["orchestra"].inputs
    files = plan.of_type("github:index/repositoryFile:RepositoryFile")
    assert len(files) == 2
    assert all(rulesets["image-gen"].urn in file.dependencies for file in files)


def test_repository_files(plan: Plan) -> None:
    files = {r.inputs["file"]: r.inputs for r in plan.of_type("github:index/repositoryFile:RepositoryFile")}
    assert set(files) == {".github/CODEOWNERS", ".github/dependabot.yml"}
    assert files[".github/CODEOWNERS"]["content"] == codeowners_content(CODEOWNERS)
    assert files[".github/dependabot.yml"]["content"] == dependabot_content(DEPENDABOT)
    assert all((f["repository"], f["branch"]) == ("image-gen", "main") for f in files.values())


def test_a_stack_in_an_account_of_its_own_gets_that_accounts_roles() -> None:
    stacks = {**STACKS, "prod": dataclasses.replace(STACKS["prod"], aws_account_id="210987654321")}
    variables = {
        v.inputs["environment"]: v.inputs["value"]
        for v in plan_delivery("prod", stacks=stacks).of_type(
            "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"
        )
    }
    assert variables["prod"] == "arn:aws:iam::210987654321:role/github-actions/orchestra-ci-deploy-prod"
    assert variables["dev"] == "arn:aws:iam::123456789012:role/github-actions/orchestra-ci-deploy-dev"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (lambda: {"deploying_repository": "elsewhere"}, "not among the repositories"),
        (lambda: {"preview_stack": "staging"}, "preview stack 'staging' is not among the stacks"),
        (
            lambda: {"repositories": repositories(prod=DeliveryEnvironment("prod"))},
            "'prod' environment with reviewers and to admit only main: its jobs get the deploy role of prod, a guarded",
        ),
        (
            lambda: {"repositories": repositories(prod=None)},
            "'prod' environment with reviewers and to admit only main: its jobs get the deploy role of prod",
        ),
        (
            lambda: {"repositories": repositories(**{"prod-plan": None})},
            "'prod-plan' environment with to admit only main: its jobs get the read role of prod",
        ),
        (
            lambda: {"repositories": repositories(**{"prod-tenants": None})},
            "'prod-tenants' environment with to admit only main: its jobs get the deploy role of prod to apply tenant",
        ),
        (
            lambda: {
                "repositories": repositories(
                    **{"dev-tenants": DeliveryEnvironment("dev-tenants", default_branch_only=False)}
                )
            },
            "'dev-tenants' environment with to admit only main",
        ),
        (
            lambda: {"stacks": {**STACKS, "dev": StackDelivery(guarded=True)}},
            "the preview stack 'dev' is guarded; pull requests would read it",
        ),
        (
            lambda: {
                "repositories": repositories(**{"dev-plan": DeliveryEnvironment("dev-plan", default_branch_only=False)})
            },
            "'dev-plan' environment with to admit only main",
        ),
        (
            lambda: {"repositories": repositories(dev=DeliveryEnvironment("dev", default_branch_only=False))},
            "'dev' environment with to admit only main",
        ),
        (
            lambda: {"repositories": repositories(preview=DeliveryEnvironment("preview", default_branch_only=False))},
            "'preview' environment with reviewers: it runs pull requests' code",
        ),
        (
            lambda: {
                "repositories": [
                    dataclasses.replace(repositories()[0], secrets={"PULUMI_ACCESS_TOKEN": "x"}),
                    *repositories()[1:],
                ]
            },
            "orchestra has repository secrets (PULUMI_ACCESS_TOKEN); any branch's workflow can read those",
        ),
        (
            lambda: {"repositories": repositories(dev=DeliveryEnvironment("dev", variables={"aws_role_arn": "arn:x"}))},
            "AWS_ROLE_ARN of dev is set from the roles",
        ),
    ],
)
def test_misconfigured_delivery_is_refused(changes: Callable[[], dict[str, object]], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate(lambda: Delivery("delivery", delivery_args(**changes())))
