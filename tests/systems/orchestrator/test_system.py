import ast
import dataclasses
import json
from pathlib import Path

import pulumi
import pytest

from components.aws.secret import SecretStore
from systems.orchestrator.access_file import AccessFile
from systems.orchestrator.handlers import contract
from systems.orchestrator.handlers.commands import COMMANDS
from systems.orchestrator.system import Orchestrator, OrchestratorArgs
from tools.offline_plan import SECRET, Plan, evaluate

from ...components.aws.policies import grants, statements_of

ACCOUNT = "arn:aws:{service}:us-east-1:123456789012:"
ACCESS = AccessFile.model_validate(
    {
        "guilds": [
            {
                "id": "1300000000000000100",
                "approver_roles": ["1300000000000000200"],
                "repositories": [
                    {"name": "octo-org/widgets", "workflow": "orchestra.yml", "channel": "1300000000000000300"}
                ],
            }
        ]
    }
)
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----app-key"


def args(protect: bool, store: SecretStore = "secretsmanager") -> OrchestratorArgs:
    return OrchestratorArgs(
        discord_application_id="1300000000000000001",
        discord_public_key=pulumi.Output.secret("ab" * 32),
        discord_bot_token=pulumi.Output.secret("s3cr3t-bot-token-value"),
        discord_bot_token_setting="orchestra:discordBotToken",
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
        access=ACCESS,
        github_auth="app",
        github_app_id="1000001",
        github_credential=pulumi.Output.secret(PRIVATE_KEY),
        worker_timeout_seconds=60,
        queue_max_receive_count=4,
        alarm_queue_age_seconds=600,
    )


def plan_orchestrator(stack: str, store: SecretStore = "secretsmanager") -> Plan:
    return evaluate(lambda: Orchestrator("orchestrator", args(stack == "prod", store)), stack=stack)


DSN = "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42"
ERROR_TRACKING = {contract.ERROR_TRACKING_DSN_SECRET_ARN, contract.ERROR_TRACKING_ENVIRONMENT}


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return plan_orchestrator(request.param)


def test_children(plan: Plan) -> None:
    system = plan.one("orchestra:system:Orchestrator", "orchestrator")
    assert sorted((r.type, r.name) for r in plan.children_of(system.urn)) == [
        ("orchestra:aws:Function", "orchestrator-discord"),
        ("orchestra:aws:Function", "orchestrator-github"),
        ("orchestra:aws:Function", "orchestrator-health"),
        ("orchestra:aws:Function", "orchestrator-worker"),
        ("orchestra:aws:HttpApi", "orchestrator-api"),
        ("orchestra:aws:Monitoring", "orchestrator-monitoring"),
        ("orchestra:aws:Queue", "orchestrator-work"),
        ("orchestra:aws:Secret", "orchestrator-discord-bot-token"),
        ("orchestra:aws:Secret", "orchestrator-discord-public-key"),
        ("orchestra:aws:Secret", "orchestrator-github-credentials"),
        ("orchestra:aws:Secret", "orchestrator-webhook-secret"),
        ("orchestra:aws:Table", "orchestrator-runs"),
        ("pulumi-python:dynamic/discord:SlashCommands", "orchestrator-slash-commands"),
        ("random:index/randomPassword:RandomPassword", "orchestrator-generated-webhook-secret"),
    ]


def test_runs_table_schema_matches_the_run_store(plan: Plan) -> None:
    table = plan.one("aws:dynamodb/table:Table", "orchestrator-runs")
    assert {attribute["name"] for attribute in table.inputs["attributes"]} == {"run_id", "run_month", "created_at"}
    assert table.inputs["name"] == f"orchestra-orchestrator-runs-{plan.stack}"
    assert table.inputs["hashKey"] == "run_id"
    assert table.inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}
    (index,) = table.inputs["globalSecondaryIndexes"]
    assert index["name"] == "recent_runs"
    protected = plan.stack == "prod"
    assert (table.protect, table.retain_on_delete, table.inputs["deletionProtectionEnabled"]) == (protected,) * 3


def test_functions_get_the_environment_their_handlers_read(plan: Plan) -> None:
    def environment(function: str) -> dict[str, str]:
        return plan.one("aws:lambda/function:Function", f"orchestrator-{function}").inputs["environment"]["variables"]

    handlers = {
        function: plan.one("aws:lambda/function:Function", f"orchestrator-{function}").inputs["handler"]
        for function in ("discord", "github", "worker", "health")
    }
    assert handlers == {
        "discord": "handlers.discord_interactions.handler",
        "github": "handlers.github_webhook.handler",
        "worker": "handlers.worker.handler",
        "health": "handlers.health.handler",
    }
    common = {"RUNS_TABLE_NAME", "RUN_TTL_DAYS", "VERSION"}
    assert set(environment("discord")) == common | {
        "DISCORD_PUBLIC_KEY_SECRET_ARN",
        "WORK_QUEUE_URL",
        "ORCHESTRATOR_ACCESS",
    }
    assert set(environment("github")) == common | {"GITHUB_WEBHOOK_SECRET_ARN", "WORK_QUEUE_URL", "ORCHESTRATOR_ACCESS"}
    assert set(environment("worker")) == common | {
        "GITHUB_CREDENTIALS_SECRET_ARN",
        "DISCORD_BOT_TOKEN_SECRET_ARN",
        "ORCHESTRATOR_ACCESS",
        "DISCORD_APPLICATION_ID",
        "DISCORD_API_URL",
        "GITHUB_API_URL",
        "EFFECT_LEASE_SECONDS",
        "CALL_DEADLINE_SECONDS",
    }
    assert set(environment("health")) == common
    assert json.loads(environment("worker")["ORCHESTRATOR_ACCESS"]) == ACCESS.model_dump()
    assert environment("worker")["GITHUB_API_URL"] == "https://api.github.com"
    assert environment("worker")["DISCORD_API_URL"] == "https://discord.com/api/v10"
    assert environment("worker")["EFFECT_LEASE_SECONDS"] == "60"
    assert environment("worker")["CALL_DEADLINE_SECONDS"] == "30"
    # The same handlers in every package; each function's libraries make its own (github and health
    # need only the error tracker's).
    versions = {function: environment(function)["VERSION"] for function in handlers}
    assert versions["github"] == versions["health"]
    assert len({versions["discord"], versions["worker"], versions["github"]}) == 3


HANDLERS = Path(contract.__file__).parent


def variables_read(module: str, seen: set[str] | None = None) -> set[str]:
    """The contract's environment variables that ``module`` or any handler module it imports reads."""
    seen = set() if seen is None else seen
    seen.add(module)
    tree = ast.parse((HANDLERS / f"{module}.py").read_text())
    read = {
        getattr(contract, node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "contract"
    }
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            imported |= {node.module} if node.module else {alias.name for alias in node.names}
    for name in imported - seen:
        if (HANDLERS / f"{name}.py").exists():
            read |= variables_read(name, seen)
    # Only the environment variables: the table's attribute names and API roots are lower-case values.
    return {value for value in read if value.isupper()}


def test_every_variable_a_handler_reads_is_set_on_its_function(plan: Plan) -> None:
    for function in ("discord", "github", "worker", "health"):
        inputs = plan.one("aws:lambda/function:Function", f"orchestrator-{function}").inputs
        module = inputs["handler"].removeprefix("handlers.").removesuffix(".handler")
        # The Function building block gives every function VERSION, read or not; a stack without a
        # DSN tells no function where to report (error_tracking.py reads both with a default).
        expected = (variables_read(module) - ERROR_TRACKING) | {contract.VERSION}
        assert expected == set(inputs["environment"]["variables"]), function


def test_with_a_dsn_every_function_may_read_it_and_reports_as_its_stack() -> None:
    def program() -> None:
        Orchestrator("orchestrator", dataclasses.replace(args(True), error_tracking_dsn=pulumi.Output.secret(DSN)))

    plan = evaluate(program, stack="prod")
    secret = ACCOUNT.format(service="secretsmanager") + "secret:orchestra-orchestrator-error-tracking-dsn-prod"
    for function in ("discord", "github", "worker", "health"):
        inputs = plan.one("aws:lambda/function:Function", f"orchestrator-{function}").inputs
        module = inputs["handler"].removeprefix("handlers.").removesuffix(".handler")
        variables = inputs["environment"]["variables"]
        assert variables_read(module) >= ERROR_TRACKING, function
        assert variables[contract.ERROR_TRACKING_DSN_SECRET_ARN] == secret
        assert variables[contract.ERROR_TRACKING_ENVIRONMENT] == "prod"
        assert secret in grants(statements_of(plan, f"orchestrator-{function}-policy"))["secretsmanager:GetSecretValue"]
    version = plan.one("aws:secretsmanager/secretVersion:SecretVersion", "orchestrator-error-tracking-dsn-value")
    assert version.inputs["secretString"] == SECRET
    assert DSN not in plan.to_json()
    # Protected like every other secret of a production stack.
    assert plan.one("aws:secretsmanager/secret:Secret", "orchestrator-error-tracking-dsn").protect


def test_each_function_may_touch_only_what_it_needs(plan: Plan) -> None:
    table = ACCOUNT.format(service="dynamodb") + f"table/orchestra-orchestrator-runs-{plan.stack}"
    secret = ACCOUNT.format(service="secretsmanager") + "secret:orchestra-orchestrator-{}-" + plan.stack
    queue = ACCOUNT.format(service="sqs") + f"orchestra-orchestrator-work-{plan.stack}"
    read = {
        "dynamodb:GetItem": {table, f"{table}/index/recent_runs"},
        "dynamodb:Query": {table, f"{table}/index/recent_runs"},
    }
    read_write = read | {"dynamodb:PutItem": {table}, "dynamodb:UpdateItem": {table}}

    def granted(function: str) -> dict[str, set[str]]:
        actions = grants(statements_of(plan, f"orchestrator-{function}-policy"))
        return {action: resources for action, resources in actions.items() if not action.startswith("logs:")}

    assert granted("discord") == read_write | {
        "secretsmanager:GetSecretValue": {secret.format("discord-public-key")},
        "sqs:SendMessage": {queue},
    }
    assert granted("github") == read_write | {
        "secretsmanager:GetSecretValue": {secret.format("webhook-secret")},
        "sqs:SendMessage": {queue},
    }
    # Only the worker reads the GitHub credentials and the bot token, and only it receives from the queue.
    assert granted("worker") == read_write | {
        "secretsmanager:GetSecretValue": {secret.format("github-credentials"), secret.format("discord-bot-token")},
        "sqs:ReceiveMessage": {queue},
        "sqs:DeleteMessage": {queue},
        "sqs:GetQueueAttributes": {queue},
    }
    assert granted("health") == read


def test_the_worker_is_fed_by_the_work_queue(plan: Plan) -> None:
    mapping = plan.one("aws:lambda/eventSourceMapping:EventSourceMapping", "orchestrator-worker-queue-source").inputs
    assert mapping["eventSourceArn"] == f"arn:aws:sqs:us-east-1:123456789012:orchestra-orchestrator-work-{plan.stack}"
    assert mapping["functionName"].endswith(f":function:orchestra-orchestrator-worker-{plan.stack}:live")
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["batchSize"] == 5
    worker = plan.one("aws:lambda/function:Function", "orchestrator-worker").inputs
    queue = plan.one("aws:sqs/queue:Queue", "orchestrator-work").inputs
    assert (worker["timeout"], queue["visibilityTimeoutSeconds"]) == (60, 360)
    assert json.loads(queue["redrivePolicy"])["maxReceiveCount"] == 4
    assert queue["sqsManagedSseEnabled"] is True
    # Endpoints answer Discord within its 3 seconds; they keep the stack's short timeout.
    assert plan.one("aws:lambda/function:Function", "orchestrator-discord").inputs["timeout"] == 10


def test_github_credentials_are_one_secret_json(plan: Plan) -> None:
    secrets = {v.name: v.inputs["secretString"] for v in plan.of_type("aws:secretsmanager/secretVersion:SecretVersion")}
    assert secrets["orchestrator-github-credentials-value"] == SECRET
    assert PRIVATE_KEY not in plan.to_json()


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
    assert commands["credential_setting"] == "orchestra:discordBotToken"
    assert "s3cr3t-bot-token-value" not in plan.to_json()
    assert "ab" * 32 not in plan.to_json()


def test_slash_commands_are_the_ones_the_handler_accepts(plan: Plan) -> None:
    commands = plan.one("pulumi-python:dynamic/discord:SlashCommands", "orchestrator-slash-commands").inputs
    assert commands["application_id"] == "1300000000000000001"
    assert [c["name"] for c in commands["commands"]] == [c["name"] for c in COMMANDS]
    assert [c["name"] for c in COMMANDS] == ["plan", "approve", "ship", "cancel", "status"]


def test_routes_and_alarms(plan: Plan) -> None:
    routes = {r.inputs["routeKey"] for r in plan.of_type("aws:apigatewayv2/route:Route")}
    assert routes == {"POST /discord/interactions", "POST /github/webhook", "ANY /healthz"}
    alarms = {
        r.name: r.inputs
        for r in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if r.name.startswith("orchestrator-monitoring-")
    }
    assert {name: (a["metricName"], a["threshold"]) for name, a in alarms.items()} == {
        "orchestrator-monitoring-discord-errors": ("Errors", 2),
        "orchestrator-monitoring-discord-throttles": ("Throttles", 1),
        "orchestrator-monitoring-github-errors": ("Errors", 2),
        "orchestrator-monitoring-github-throttles": ("Throttles", 1),
        "orchestrator-monitoring-runs-read-throttles": ("ReadThrottleEvents", 1),
        "orchestrator-monitoring-runs-write-throttles": ("WriteThrottleEvents", 1),
        "orchestrator-monitoring-worker-errors": ("Errors", 2),
        "orchestrator-monitoring-worker-throttles": ("Throttles", 1),
        "orchestrator-monitoring-api-5xx": ("5xx", 5),
        "orchestrator-monitoring-api-latency": ("Latency", 2500),
        "orchestrator-monitoring-dead-letters": ("ApproximateNumberOfMessagesVisible", 1),
        "orchestrator-monitoring-work-age": ("ApproximateAgeOfOldestMessage", 600),
    }
    dead_letters = alarms["orchestrator-monitoring-dead-letters"]
    assert dead_letters["dimensions"] == {"QueueName": f"orchestra-orchestrator-work-dead-letters-{plan.stack}"}
    assert dead_letters["statistic"] == "Maximum"
    assert alarms["orchestrator-monitoring-work-age"]["dimensions"] == {
        "QueueName": f"orchestra-orchestrator-work-{plan.stack}"
    }
    assert alarms["orchestrator-monitoring-api-5xx"]["dimensions"]["Stage"] == "$default"
    # What Discord's slowest users wait, against its 3 seconds.
    latency = alarms["orchestrator-monitoring-api-latency"]
    assert (latency["extendedStatistic"], latency.get("statistic")) == ("p99", None)


def test_dashboard_shows_the_queue_and_the_worker(plan: Plan) -> None:
    dashboard = plan.one("aws:cloudwatch/dashboard:Dashboard", "orchestrator-monitoring-dashboard").inputs
    titles = {widget["properties"]["title"] for widget in json.loads(dashboard["dashboardBody"])["widgets"]}
    assert {
        "orchestrator-work messages waiting",
        "orchestrator-work oldest message age (s)",
        "orchestrator-work dead letters",
        "orchestrator-worker errors",
        "orchestrator-worker average duration (ms)",
    } <= titles


def test_dashboard_shows_api_latency_and_table_capacity(plan: Plan) -> None:
    dashboard = plan.one("aws:cloudwatch/dashboard:Dashboard", "orchestrator-monitoring-dashboard").inputs
    widgets = {w["properties"]["title"]: w["properties"] for w in json.loads(dashboard["dashboardBody"])["widgets"]}
    api = ["ApiId", "orchestrator-api-id", "Stage", "$default"]
    table = ["TableName", f"orchestra-orchestrator-runs-{plan.stack}"]
    expected = {
        "orchestrator-api p99 latency (ms)": (["AWS/ApiGateway", "Latency", *api], "p99"),
        "orchestrator-api p99 integration latency (ms)": (["AWS/ApiGateway", "IntegrationLatency", *api], "p99"),
        "orchestrator-runs read capacity used": (["AWS/DynamoDB", "ConsumedReadCapacityUnits", *table], "Sum"),
        "orchestrator-runs write capacity used": (["AWS/DynamoDB", "ConsumedWriteCapacityUnits", *table], "Sum"),
    }
    for title, (metric, stat) in expected.items():
        assert (widgets[title]["metrics"], widgets[title]["stat"]) == ([metric], stat), title


def test_every_function_serves_through_its_alias_after_its_own_pre_traffic_check(plan: Plan) -> None:
    rollouts = {r.name: r for r in plan.of_type("pulumi-python:dynamic/aws:LambdaRollout")}
    assert set(rollouts) == {f"orchestrator-{fn}-live" for fn in ("discord", "github", "worker", "health")}
    checks = {
        name: [(c["name"], c["expect"], c["expect_body"]) for c in r.inputs["checks"]] for name, r in rollouts.items()
    }
    refused = {"error": "invalid request signature"}
    assert checks == {
        "orchestrator-discord-live": [("forged-interaction", {"statusCode": 401}, refused)],
        "orchestrator-github-live": [("forged-delivery", {"statusCode": 401}, refused)],
        "orchestrator-worker-live": [("empty-batch", {"batchItemFailures": []}, {})],
        "orchestrator-health-live": [("healthz", {"statusCode": 200}, {"status": "ok"})],
    }
    discord = json.loads(rollouts["orchestrator-discord-live"].inputs["checks"][0]["event"])
    assert discord["headers"]["x-signature-timestamp"] == "{now}"
    assert (discord["routeKey"], discord["requestContext"]["http"]["method"]) == ("POST /discord/interactions", "POST")
    for integration in plan.of_type("aws:apigatewayv2/integration:Integration"):
        assert integration.inputs["integrationUri"].endswith(f"-{plan.stack}:live"), integration.name
    for permission in plan.of_type("aws:lambda/permission:Permission"):
        assert permission.inputs["qualifier"] == "live", permission.name


def test_log_groups_keep_what_the_stack_says(plan: Plan) -> None:
    retention = 30 if plan.stack == "prod" else 7
    assert {r.inputs["retentionInDays"] for r in plan.of_type("aws:cloudwatch/logGroup:LogGroup")} == {retention}


def test_ssm_store_keeps_secrets_as_protected_secure_strings() -> None:
    plan = plan_orchestrator("prod", store="ssm")
    parameters = plan.of_type("aws:ssm/parameter:Parameter")
    assert sorted(p.inputs["name"] for p in parameters) == [
        "/orchestra/prod/orchestrator-discord-bot-token",
        "/orchestra/prod/orchestrator-discord-public-key",
        "/orchestra/prod/orchestrator-github-credentials",
        "/orchestra/prod/orchestrator-webhook-secret",
    ]
    assert all(p.protect and p.retain_on_delete and p.inputs["value"] == SECRET for p in parameters)
    github = grants(statements_of(plan, "orchestrator-github-policy"))
    assert github["ssm:GetParameter"] == {
        "arn:aws:ssm:us-east-1:123456789012:parameter/orchestra/prod/orchestrator-webhook-secret"
    }
