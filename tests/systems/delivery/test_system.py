import dataclasses
import json
from pathlib import Path

import pulumi
import pytest

from components.aws.github_oidc import GITHUB_OIDC_HOST
from components.github.environment import Reviewers
from components.github.files import CodeOwnersRule, DependabotUpdate, codeowners_content, dependabot_content
from systems.delivery.system import (
    PROGRAM_AWS_SERVICES,
    DeliveredRepository,
    Delivery,
    DeliveryArgs,
    DeliveryEnvironment,
)
from systems.orchestrator.system import Orchestrator
from tests.systems.orchestrator.test_system import args as orchestrator_args
from tools.offline_plan import SECRET, Plan, evaluate, evaluate_project
from tools.offline_plan.mock_outputs import github_id

ROOT = Path(__file__).resolve().parents[3]
WEBHOOK_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/github/webhook"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{GITHUB_OIDC_HOST}"
# Values that must never reach a plan in plain text.
PLAIN_SECRETS = ("pulumi-token-value", "cloudflare-token-value", "ideogram-key-value", "webhook-hmac-value")
CODEOWNERS = [CodeOwnersRule("*", ["@acme/platform"])]
DEPENDABOT = [DependabotUpdate("npm"), DependabotUpdate("github-actions")]


def repositories() -> list[DeliveredRepository]:
    """Built inside the program: outputs belong to the run that creates them."""
    cloudflare_token = pulumi.Output.from_input("cloudflare-token-value")  # e.g. a token the program creates
    return [
        DeliveredRepository(
            name="orchestra",
            required_checks=["make test"],
            secrets={"PULUMI_ACCESS_TOKEN": pulumi.Output.secret("pulumi-token-value")},
            environments=[
                DeliveryEnvironment("production", reviewers=Reviewers(users=["alice"], teams=["platform"])),
            ],
        ),
        DeliveredRepository(
            name="image-gen",
            required_checks=["test", "lint"],
            required_approvals=2,
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
    )
    return dataclasses.replace(args, **changes)


def plan_delivery(stack: str) -> Plan:
    return evaluate(lambda: Delivery("delivery", delivery_args()), stack=stack)


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return plan_delivery(request.param)


def test_children(plan: Plan) -> None:
    system = plan.one("orchestra:system:Delivery", "delivery")
    assert sorted((r.type, r.name) for r in plan.children_of(system.urn)) == [
        ("orchestra:aws:GitHubActionsRole", "delivery-deploy-role"),
        ("orchestra:aws:GitHubActionsRole", "delivery-preview-role"),
        ("orchestra:aws:GitHubOidc", "delivery-oidc"),
        ("orchestra:github:ActionsSettings", "delivery-image-gen-actions"),
        ("orchestra:github:ActionsSettings", "delivery-image-gen-production-actions"),
        ("orchestra:github:ActionsSettings", "delivery-orchestra-actions"),
        ("orchestra:github:Environment", "delivery-image-gen-production"),
        ("orchestra:github:Environment", "delivery-orchestra-production"),
        ("orchestra:github:Owner", "delivery-github"),
        ("orchestra:github:RepositoryFiles", "delivery-image-gen-files"),
        ("orchestra:github:Ruleset", "delivery-image-gen-ruleset"),
        ("orchestra:github:Ruleset", "delivery-orchestra-ruleset"),
        ("orchestra:github:Webhook", "delivery-image-gen-orchestrator-webhook"),
    ]


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
    (environment_secret,) = plan.of_type("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")
    assert (environment_secret.inputs["repository"], environment_secret.inputs["environment"]) == (
        "image-gen",
        "production",
    )
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


def test_oidc_trust_is_limited_to_this_repository(plan: Plan) -> None:
    def trust(role: str) -> dict[str, object]:
        document = json.loads(plan.one("aws:iam/role:Role", role).inputs["assumeRolePolicy"])
        (statement,) = document["Statement"]
        assert statement["Principal"] == {"Federated": PROVIDER_ARN}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert list(statement["Condition"]) == ["StringEquals"]
        return statement["Condition"]["StringEquals"]

    assert trust("delivery-deploy-role") == {
        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
        f"{GITHUB_OIDC_HOST}:sub": [
            "repo:acme/orchestra:environment:production",
            "repo:acme/orchestra:ref:refs/heads/main",
        ],
    }
    assert trust("delivery-preview-role") == {
        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
        f"{GITHUB_OIDC_HOST}:sub": ["repo:acme/orchestra:pull_request"],
    }
    for role in plan.of_type("aws:iam/role:Role"):
        assert "*" not in role.inputs["assumeRolePolicy"]


def test_role_arns_are_the_variables_the_workflows_read(plan: Plan) -> None:
    variables = {
        v.inputs["variableName"]: v.inputs["value"]
        for v in plan.of_type("github:index/actionsVariable:ActionsVariable")
        if v.inputs["repository"] == "orchestra"
    }
    assert variables == {
        "AWS_DEPLOY_ROLE_ARN": f"arn:aws:iam::123456789012:role/orchestra-delivery-deploy-role-{plan.stack}",
        "AWS_PREVIEW_ROLE_ARN": f"arn:aws:iam::123456789012:role/orchestra-delivery-preview-role-{plan.stack}",
    }
    workflows = "".join(p.read_text() for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert all(f"vars.{name}" in workflows for name in variables)


def test_production_requires_approval_and_protected_branches(plan: Plan) -> None:
    environments = {
        r.inputs["repository"]: r.inputs
        for r in plan.of_type("github:index/repositoryEnvironment:RepositoryEnvironment")
    }
    assert environments["orchestra"]["reviewers"] == [
        {"users": [github_id("user", "alice")], "teams": [github_id("team", "platform")]}
    ]
    assert environments["image-gen"]["reviewers"] == [{"users": [github_id("user", "bob")], "teams": []}]
    for environment in environments.values():
        assert environment["environment"] == "production"
        assert environment["deploymentBranchPolicy"] == {"protectedBranches": True, "customBranchPolicies": False}
        assert environment["preventSelfReview"] is True
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
    for ruleset in rulesets.values():
        assert ruleset["conditions"]["refName"]["includes"] == ["~DEFAULT_BRANCH"]
        assert ruleset["rules"]["pullRequest"]["dismissStaleReviewsOnPush"] is True
        assert (ruleset["rules"]["deletion"], ruleset["rules"]["nonFastForward"]) == (True, True)
    # Only the repository whose files the program commits lets admins (its token) past the rules.
    assert "bypassActors" not in orchestra
    assert image_gen["bypassActors"] == [{"actorType": "RepositoryRole", "actorId": 5, "bypassMode": "always"}]


def test_repository_files(plan: Plan) -> None:
    files = {r.inputs["file"]: r.inputs for r in plan.of_type("github:index/repositoryFile:RepositoryFile")}
    assert set(files) == {".github/CODEOWNERS", ".github/dependabot.yml"}
    assert files[".github/CODEOWNERS"]["content"] == codeowners_content(CODEOWNERS)
    assert files[".github/dependabot.yml"]["content"] == dependabot_content(DEPENDABOT)
    assert all((f["repository"], f["branch"]) == ("image-gen", "main") for f in files.values())


def test_deploy_role_covers_every_aws_service_the_program_declares() -> None:
    """A new kind of AWS resource in the program must be granted here, or `pulumi up` in CI fails."""
    services = {"apigatewayv2": "apigateway", "logGroup": "logs"}
    declared = set()
    for resource in evaluate_project(ROOT, "prod").resources:
        if resource.custom and resource.type.startswith("aws:"):
            module, kind = resource.type.split(":")[1].split("/")
            declared.add(services.get(kind.split(":")[0], services.get(module, module)))
    assert declared <= set(PROGRAM_AWS_SERVICES), declared - set(PROGRAM_AWS_SERVICES)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"deploying_repository": "elsewhere"}, "not among the repositories"),
        ({"deploy_environment": "prod"}, "needs a 'prod' environment"),
    ],
)
def test_misconfigured_delivery_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(lambda: Delivery("delivery", delivery_args(**changes)))


def test_deploy_environment_without_reviewers_is_refused() -> None:
    def program() -> None:
        unreviewed = [dataclasses.replace(repositories()[0], environments=[DeliveryEnvironment("production")])]
        Delivery("delivery", delivery_args(repositories=unreviewed))

    with pytest.raises(ValueError, match="with reviewers"):
        evaluate(program)


def test_role_variables_cannot_be_configured_by_hand() -> None:
    def program() -> None:
        orchestra = dataclasses.replace(repositories()[0], variables={"AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::1:role/x"})
        Delivery("delivery", delivery_args(repositories=[orchestra]))

    with pytest.raises(ValueError, match="AWS_DEPLOY_ROLE_ARN"):
        evaluate(program)
