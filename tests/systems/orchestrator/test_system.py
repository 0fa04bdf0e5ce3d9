import json

import pulumi
import pytest

from components.aws.secret import SecretStore
from systems.orchestrator.handlers.commands import COMMANDS
from systems.orchestrator.system import Orchestrator, OrchestratorArgs
from tools.offline_plan import SECRET, Plan, evaluate

from ...components.aws.policies import grants, statements_of

ACCOUNT = "arn:aws:{service}:us-east-1:123456789012:"


def args(protect: bool, store: SecretStore = "secretsmanager") -> OrchestratorArgs:
    return OrchestratorArgs(
        discord_application_id="1300000000000000001",
        discord_public_key=pulumi.Output.secret("ab" * 32),
        discord_bot_token=pulumi.Output.secret("bot-token"),
        protect_stateful_resources=protect,
        secret_store=store,
        log_retention_days=30 if protect else 7,
        memory_mb=512,
        timeout_seconds=10,
        architecture="arm64",
        run_ttl_days=90,
        api_rate_limit=50,
        api_burst_limit=100,
        alarm_lambda_errors=2,
        alarm_api_5xx=5,
        alarm_email="",
    )


def plan_orchestrator(stack: str, store: SecretStore = "secretsmanager") -> Plan:
    return evaluate(lambda: Orchestrator("orchestrator", args(stack == "prod", store)), stack=stack)


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return plan_orchestrator(request.param)


def test_children(plan: Plan) -> None:
    system = plan.one("orchestra:system:Orchestrator", "orchestrator")
    assert sorted((r.type, r.name) for r in plan.children_of(system.urn)) == [
        ("orchestra:aws:Function", "orchestrator-discord"),
        ("orchestra:aws:Function", "orchestrator-github"),
        ("orchestra:aws:HttpApi", "orchestrator-api"),
        ("orchestra:aws:Monitoring", "orchestrator-monitoring"),
        ("orchestra:aws:Secret", "orchestrator-discord-public-key"),
        ("orchestra:aws:Secret", "orchestrator-webhook-secret"),
        ("orchestra:aws:Table", "orchestrator-runs"),
        ("pulumi-python:dynamic/discord:SlashCommands", "orchestrator-slash-commands"),
        ("random:index/randomPassword:RandomPassword", "orchestrator-generated-webhook-secret"),
    ]


def test_runs_table_schema_matches_the_run_store(plan: Plan) -> None:
    table = plan.one("aws:dynamodb/table:Table", "orchestrator-runs")
    assert table.inputs["name"] == f"orchestra-orchestrator-runs-{plan.stack}"
    assert table.inputs["hashKey"] == "run_id"
    assert table.inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}
    (index,) = table.inputs["globalSecondaryIndexes"]
    assert index["name"] == "recent_runs"
    protected = plan.stack == "prod"
    assert (table.protect, table.retain_on_delete, table.inputs["deletionProtectionEnabled"]) == (protected,) * 3


def test_functions_get_the_environment_their_handlers_read(plan: Plan) -> None:
    discord = plan.one("aws:lambda/function:Function", "orchestrator-discord").inputs
    github = plan.one("aws:lambda/function:Function", "orchestrator-github").inputs
    assert discord["handler"] == "handlers.discord_interactions.handler"
    assert github["handler"] == "handlers.github_webhook.handler"
    assert set(discord["environment"]["variables"]) == {
        "RUNS_TABLE_NAME",
        "DISCORD_PUBLIC_KEY_SECRET_ARN",
        "RUN_TTL_DAYS",
        "VERSION",
    }
    assert set(github["environment"]["variables"]) == {
        "RUNS_TABLE_NAME",
        "GITHUB_WEBHOOK_SECRET_ARN",
        "RUN_TTL_DAYS",
        "VERSION",
    }
    assert discord["sourceCodeHash"] == github["sourceCodeHash"]


def test_each_function_may_touch_only_its_table_and_secret(plan: Plan) -> None:
    table = ACCOUNT.format(service="dynamodb") + f"table/orchestra-orchestrator-runs-{plan.stack}"
    secret = ACCOUNT.format(service="secretsmanager") + "secret:orchestra-orchestrator-{}-" + plan.stack
    discord = grants(statements_of(plan, "orchestrator-discord-policy"))
    github = grants(statements_of(plan, "orchestrator-github-policy"))
    assert {action: discord[action] for action in discord if not action.startswith("logs:")} == {
        "dynamodb:GetItem": {table, f"{table}/index/recent_runs"},
        "dynamodb:Query": {table, f"{table}/index/recent_runs"},
        "dynamodb:PutItem": {table},
        "dynamodb:UpdateItem": {table},
        "secretsmanager:GetSecretValue": {secret.format("discord-public-key")},
    }
    assert {action: github[action] for action in github if not action.startswith("logs:")} == {
        "dynamodb:PutItem": {table},
        "dynamodb:UpdateItem": {table},
        "secretsmanager:GetSecretValue": {secret.format("webhook-secret")},
    }


def test_no_policy_grants_a_wildcard(plan: Plan) -> None:
    for policy in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        log_group = plan.one("aws:cloudwatch/logGroup:LogGroup", policy.name.replace("-policy", "-logs"))
        own_streams = f"arn:aws:logs:us-east-1:123456789012:log-group:{log_group.inputs['name']}:log-stream:*"
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            assert all("*" not in action for action in statement["Action"])
            assert all("*" not in resource or resource == own_streams for resource in statement["Resource"])


def test_secrets_are_never_plain_text(plan: Plan) -> None:
    for version in plan.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert version.inputs["secretString"] == SECRET
    commands = plan.one("pulumi-python:dynamic/discord:SlashCommands", "orchestrator-slash-commands").inputs
    assert commands["bot_token"] == SECRET
    assert "bot-token" not in plan.to_json()
    assert "ab" * 32 not in plan.to_json()


def test_slash_commands_are_the_ones_the_handler_accepts(plan: Plan) -> None:
    commands = plan.one("pulumi-python:dynamic/discord:SlashCommands", "orchestrator-slash-commands").inputs
    assert commands["application_id"] == "1300000000000000001"
    assert [c["name"] for c in commands["commands"]] == [c["name"] for c in COMMANDS] == ["plan", "status"]


def test_routes_and_alarms(plan: Plan) -> None:
    routes = {r.inputs["routeKey"] for r in plan.of_type("aws:apigatewayv2/route:Route")}
    assert routes == {"POST /discord/interactions", "POST /github/webhook"}
    alarms = {r.name: r.inputs for r in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {name: (a["metricName"], a["threshold"]) for name, a in alarms.items()} == {
        "orchestrator-monitoring-discord-errors": ("Errors", 2),
        "orchestrator-monitoring-discord-throttles": ("Throttles", 1),
        "orchestrator-monitoring-github-errors": ("Errors", 2),
        "orchestrator-monitoring-github-throttles": ("Throttles", 1),
        "orchestrator-monitoring-runs-read-throttles": ("ReadThrottleEvents", 1),
        "orchestrator-monitoring-runs-write-throttles": ("WriteThrottleEvents", 1),
        "orchestrator-monitoring-api-5xx": ("5xx", 5),
    }
    assert alarms["orchestrator-monitoring-api-5xx"]["dimensions"]["Stage"] == "$default"


def test_log_groups_keep_what_the_stack_says(plan: Plan) -> None:
    retention = 30 if plan.stack == "prod" else 7
    assert {r.inputs["retentionInDays"] for r in plan.of_type("aws:cloudwatch/logGroup:LogGroup")} == {retention}


def test_ssm_store_keeps_secrets_as_protected_secure_strings() -> None:
    plan = plan_orchestrator("prod", store="ssm")
    parameters = plan.of_type("aws:ssm/parameter:Parameter")
    assert sorted(p.inputs["name"] for p in parameters) == [
        "/orchestra/prod/orchestrator-discord-public-key",
        "/orchestra/prod/orchestrator-webhook-secret",
    ]
    assert all(p.protect and p.retain_on_delete and p.inputs["value"] == SECRET for p in parameters)
    github = grants(statements_of(plan, "orchestrator-github-policy"))
    assert github["ssm:GetParameter"] == {
        "arn:aws:ssm:us-east-1:123456789012:parameter/orchestra/prod/orchestrator-webhook-secret"
    }
