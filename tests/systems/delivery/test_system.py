import dataclasses
import json
import re
from collections.abc import Callable
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
    StackDelivery,
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


REVIEWERS = Reviewers(users=["alice"], teams=["platform"])
ORCHESTRA_ENVIRONMENTS = ("preview", "dev", "dev-plan", "production", "production-plan")


def orchestra_environments() -> dict[str, DeliveryEnvironment]:
    """The deploying repository's environments, as the checks want them."""
    return {
        "preview": DeliveryEnvironment("preview", reviewers=REVIEWERS, default_branch_only=False),
        "dev": DeliveryEnvironment("dev"),
        "dev-plan": DeliveryEnvironment("dev-plan"),
        "production": DeliveryEnvironment(
            "production",
            reviewers=REVIEWERS,
            secrets={"PULUMI_ACCESS_TOKEN": pulumi.Output.secret("pulumi-token-value")},
        ),
        "production-plan": DeliveryEnvironment("production-plan"),
    }


STACKS = {
    "dev": StackDelivery(deploy_environment="dev", plan_environment="dev-plan"),
    "prod": StackDelivery(deploy_environment="production", plan_environment="production-plan"),
}


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
        ("orchestra:github:Environment", f"delivery-orchestra-{environment}") for environment in ORCHESTRA_ENVIRONMENTS
    ]
    # Every environment of the deploying repository that a role trusts gets its AWS_ROLE_ARN.
    settings = [
        ("orchestra:github:ActionsSettings", f"delivery-orchestra-{environment}-actions")
        for environment in ORCHESTRA_ENVIRONMENTS
    ]
    assert sorted((r.type, r.name) for r in plan.children_of(system.urn)) == sorted(
        [
            ("orchestra:aws:GitHubActionsRole", "delivery-dev-deploy-role"),
            ("orchestra:aws:GitHubActionsRole", "delivery-dev-read-role"),
            ("orchestra:aws:GitHubActionsRole", "delivery-prod-deploy-role"),
            ("orchestra:aws:GitHubActionsRole", "delivery-prod-read-role"),
            ("orchestra:aws:GitHubOidc", "delivery-oidc"),
            ("orchestra:github:ActionsSettings", "delivery-image-gen-actions"),
            ("orchestra:github:ActionsSettings", "delivery-image-gen-production-actions"),
            ("orchestra:github:Environment", "delivery-image-gen-production"),
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
        ("orchestra", "production"),
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


def trust(plan: Plan, role: str) -> dict[str, object]:
    document = json.loads(plan.one("aws:iam/role:Role", role).inputs["assumeRolePolicy"])
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert list(statement["Condition"]) == ["StringEquals"]
    return statement["Condition"]["StringEquals"]


def subjects(plan: Plan) -> dict[str, list[str]]:
    return {
        role.name: trust(plan, role.name)[f"{GITHUB_OIDC_HOST}:sub"]  # type: ignore[misc]
        for role in plan.of_type("aws:iam/role:Role")
    }


def test_each_role_is_trusted_from_its_environments_only(plan: Plan) -> None:
    assert subjects(plan) == {
        "delivery-dev-deploy-role": ["repo:acme/orchestra:environment:dev"],
        "delivery-dev-read-role": [
            "repo:acme/orchestra:environment:dev-plan",
            "repo:acme/orchestra:environment:preview",
        ],
        "delivery-prod-deploy-role": ["repo:acme/orchestra:environment:production"],
        "delivery-prod-read-role": ["repo:acme/orchestra:environment:production-plan"],
    }
    for role in plan.of_type("aws:iam/role:Role"):
        assert trust(plan, role.name)[f"{GITHUB_OIDC_HOST}:aud"] == "sts.amazonaws.com"
        assert "*" not in role.inputs["assumeRolePolicy"]
        assert role.inputs["path"] == "/github-actions/"


def test_trust_lists_the_id_embedded_subjects_when_configured() -> None:
    plan = plan_delivery("prod", oidc_owner_id=123, oidc_repository_id=456)
    assert subjects(plan)["delivery-prod-deploy-role"] == ["repo:acme@123/orchestra@456:environment:production"]
    assert all(subject.startswith("repo:acme@123/orchestra@456:") for s in subjects(plan).values() for subject in s)


def role_grants(plan: Plan, role: str) -> dict[str, set[str]]:
    from tests.components.aws.policies import grants, statements_of

    return grants(statements_of(plan, f"delivery-{role}-role-policy"))


def test_each_stack_role_is_scoped_to_that_stack(plan: Plan) -> None:
    for stack, other in (("dev", "prod"), ("prod", "dev")):
        for kind in ("deploy", "read"):
            resources = {r for rs in role_grants(plan, f"{stack}-{kind}").values() for r in rs}
            assert any(r.endswith(f"orchestra-*-{stack}") for r in resources), (stack, kind)
            assert not any(f"-{other}" in r for r in resources), (stack, kind)
    # Only the deploy roles write; the read roles may read their stack's secret values, for refresh.
    for stack in ("dev", "prod"):
        assert "lambda:UpdateFunctionCode" in role_grants(plan, f"{stack}-deploy")
        read = role_grants(plan, f"{stack}-read")
        assert "lambda:UpdateFunctionCode" not in read
        assert read["secretsmanager:GetSecretValue"] == {
            f"arn:aws:secretsmanager:us-east-1:123456789012:secret:orchestra-*-{stack}-??????"
        }


def test_only_the_stacks_own_roles_may_read_and_decrypt_its_state() -> None:
    keys = {stack: f"arn:aws:kms:us-east-1:123456789012:key/{stack}" for stack in STACKS}
    stacks = {
        stack: dataclasses.replace(delivery, state_bucket=f"acme-state-{stack}", state_kms_key_arn=keys[stack])
        for stack, delivery in STACKS.items()
    }
    plan = plan_delivery("prod", stacks=stacks)
    roles = ("dev-read", "dev-deploy", "prod-read", "prod-deploy")
    decrypters = {role: role_grants(plan, role).get("kms:Decrypt") for role in roles}
    # The preview environment's role (dev's read role) never decrypts production's state.
    assert decrypters == {
        "dev-read": {keys["dev"]},
        "dev-deploy": {keys["dev"]},
        "prod-read": {keys["prod"]},
        "prod-deploy": {keys["prod"]},
    }
    assert role_grants(plan, "prod-deploy")["kms:Encrypt"] == {keys["prod"]}
    readers = {role: role_grants(plan, role)["s3:GetObject"] for role in roles}
    assert readers == {
        "dev-read": {"arn:aws:s3:::acme-state-dev/*"},
        "dev-deploy": {"arn:aws:s3:::acme-state-dev/*"},
        "prod-read": {"arn:aws:s3:::acme-state-prod/*"},
        "prod-deploy": {"arn:aws:s3:::acme-state-prod/*"},
    }
    assert role_grants(plan, "dev-read")["s3:PutObject"] == {"arn:aws:s3:::acme-state-dev/*.pulumi/locks/*"}


def test_role_arns_are_the_environment_variables_the_workflows_read(plan: Plan) -> None:
    variables = {
        (v.inputs["environment"], v.inputs["variableName"]): v.inputs["value"]
        for v in plan.of_type("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
        if v.inputs["repository"] == "orchestra"
    }

    # Each value is the role's ARN (`…:role/<path><name>`), named here by the role.
    assert {key: value.rsplit("/", 1)[1] for key, value in variables.items()} == {
        ("preview", "AWS_ROLE_ARN"): f"orchestra-delivery-dev-read-role-{plan.stack}",
        ("dev", "AWS_ROLE_ARN"): f"orchestra-delivery-dev-deploy-role-{plan.stack}",
        ("dev-plan", "AWS_ROLE_ARN"): f"orchestra-delivery-dev-read-role-{plan.stack}",
        ("production", "AWS_ROLE_ARN"): f"orchestra-delivery-prod-deploy-role-{plan.stack}",
        ("production-plan", "AWS_ROLE_ARN"): f"orchestra-delivery-prod-read-role-{plan.stack}",
    }
    assert all(value.startswith("arn:aws:iam::123456789012:role/") for value in variables.values())
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
    for name in ("preview", "production"):
        assert environments[("orchestra", name)]["reviewers"] == reviewed
    for name in ("dev", "dev-plan", "production-plan"):
        assert "reviewers" not in environments[("orchestra", name)]
    # Every environment but preview admits only the default branch; preview admits pull requests.
    assert branches == {
        ("orchestra", name): "main" for name in ("dev", "dev-plan", "production", "production-plan")
    } | {("image-gen", "production"): "main"}
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


def test_with_a_github_app_only_the_app_bypasses() -> None:
    plan = plan_delivery("prod", github_app_id=987654)
    rulesets = {
        r.inputs["repository"]: r.inputs for r in plan.of_type("github:index/repositoryRuleset:RepositoryRuleset")
    }
    assert rulesets["image-gen"]["bypassActors"] == [
        {"actorType": "Integration", "actorId": 987654, "bypassMode": "always"}
    ]
    assert "bypassActors" not in rulesets["orchestra"]


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
        (lambda: {"deploying_repository": "elsewhere"}, "not among the repositories"),
        (lambda: {"preview_stack": "staging"}, "preview stack 'staging' is not among the stacks"),
        (
            lambda: {"repositories": repositories(production=DeliveryEnvironment("production"))},
            "'production' environment with reviewers",
        ),
        (
            lambda: {"repositories": repositories(production=None)},
            "'production' environment with reviewers and to admit only main: its jobs get the deploy role of prod",
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
