import base64
import json
from pathlib import Path

import pytest

from components.aws.function import Function, FunctionArgs, QueueSource, RolloutArgs
from components.aws.queue import Queue, QueueArgs
from components.aws.resource_actions import LAMBDA_ROLLOUT_TYPE
from components.aws.secret import Secret, SecretArgs
from components.aws.table import GlobalIndex, Table, TableArgs
from components.providers.lambda_rollout import PreTrafficCheck, TrafficStep
from tools.offline_plan import Plan, evaluate

from .policies import grants, statements_of

TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orchestra-runs-dev"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:orchestra-key-dev"
LOG_GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orchestra-worker-dev"


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    package = tmp_path_factory.mktemp("src") / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text("def handler(event, context):\n    return {'statusCode': 200}\n")
    return package


def plan_function(package_dir: Path, tmp_path: Path, stack: str = "dev", **overrides: object) -> Plan:
    def program() -> None:
        table = Table(
            "runs",
            TableArgs(hash_key="id", attributes={"id": "S", "day": "S"}, indexes=[GlobalIndex("by_day", "day")]),
        )
        secret = Secret("key", SecretArgs(value="s3cr3t-value", description="a key"))
        args = {
            "package_dir": package_dir,
            "handler": "app.main.handler",
            "links": [table.link_read_write("RUNS_TABLE_NAME"), secret.link_read("KEY_SECRET_ARN")],
            "environment": {"MODE": "strict"},
            "build_dir": tmp_path / "build",
            **overrides,
        }
        Function("worker", FunctionArgs(**args))

    return evaluate(program, stack=stack)


def test_children_are_function_role_policy_log_group_gate_alarms_and_alias(package_dir: Path, tmp_path: Path) -> None:
    plan = plan_function(package_dir, tmp_path)
    component = plan.one("orchestra:aws:Function", "worker")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("aws:cloudwatch/logGroup:LogGroup", "worker-logs"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "worker-gate-duration"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "worker-gate-errors"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "worker-gate-throttles"),
        ("aws:iam/role:Role", "worker-role"),
        ("aws:iam/rolePolicy:RolePolicy", "worker-policy"),
        ("aws:lambda/function:Function", "worker"),
        (LAMBDA_ROLLOUT_TYPE, "worker-live"),
    ]


def test_each_change_publishes_a_version_the_alias_rollout_moves_to(package_dir: Path, tmp_path: Path) -> None:
    steps = [TrafficStep(0.1, 300)]
    check = PreTrafficCheck("ping", "{}", {"statusCode": 200})
    plan = plan_function(
        package_dir, tmp_path, rollout=RolloutArgs(steps=steps, checks=[check], errors=3), timeout_seconds=20
    )
    function = plan.one("aws:lambda/function:Function", "worker")
    assert function.inputs["publish"] is True
    rollout = plan.one(LAMBDA_ROLLOUT_TYPE, "worker-live")
    alarms = [
        "orchestra-worker-gate-errors-dev",
        "orchestra-worker-gate-throttles-dev",
        "orchestra-worker-gate-duration-dev",
    ]
    assert {key: rollout.inputs[key] for key in ("function_name", "alias_name", "version", "region")} == {
        "function_name": "orchestra-worker-dev",
        "alias_name": "live",
        "version": "1",
        "region": "us-east-1",
    }
    assert rollout.inputs["steps"] == [{"weight": 0.1, "bake_seconds": 300}]
    assert rollout.inputs["alarm_names"] == alarms
    assert rollout.inputs["error_log"] == {"log_group": "/aws/lambda/orchestra-worker-dev", "errors": 3}
    assert rollout.inputs["checks"] == [
        {"name": "ping", "event": "{}", "expect": {"statusCode": 200}, "expect_body": {}}
    ]
    for alarm in alarms:
        assert (
            plan.one(
                "aws:cloudwatch/metricAlarm:MetricAlarm", alarm.removeprefix("orchestra-").removesuffix("-dev")
            ).urn
            in rollout.dependencies
        )


def test_the_gate_alarms_watch_the_new_version_served_through_the_alias(package_dir: Path, tmp_path: Path) -> None:
    plan = plan_function(package_dir, tmp_path, rollout=RolloutArgs(errors=3), timeout_seconds=20)
    watched = {"FunctionName": "orchestra-worker-dev", "Resource": "orchestra-worker-dev:live", "ExecutedVersion": "1"}
    expected = {
        "errors": ("Errors", "Sum", 3, "GreaterThanOrEqualToThreshold"),
        "throttles": ("Throttles", "Sum", 1, "GreaterThanOrEqualToThreshold"),
        "duration": ("Duration", "Average", 16000, "GreaterThanOrEqualToThreshold"),
    }
    for rule, (metric, statistic, threshold, comparison) in expected.items():
        alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"worker-gate-{rule}").inputs
        assert (alarm["metricName"], alarm["statistic"], alarm["threshold"]) == (metric, statistic, threshold)
        assert alarm["comparisonOperator"] == comparison
        assert alarm["dimensions"] == watched
        assert (alarm["period"], alarm["evaluationPeriods"], alarm["treatMissingData"]) == (60, 1, "notBreaching")


def test_by_default_a_new_version_takes_all_traffic_once_checked(package_dir: Path, tmp_path: Path) -> None:
    rollout = plan_function(package_dir, tmp_path).one(LAMBDA_ROLLOUT_TYPE, "worker-live").inputs
    assert (rollout["steps"], rollout["checks"]) == ([], [])


def test_function_inputs(package_dir: Path, tmp_path: Path) -> None:
    plan = plan_function(package_dir, tmp_path, memory_mb=512, timeout_seconds=20, log_retention_days=30)
    function = plan.one("aws:lambda/function:Function", "worker").inputs
    assert function["name"] == "orchestra-worker-dev"
    assert function["runtime"] == "python3.12"
    assert function["handler"] == "app.main.handler"
    assert function["architectures"] == ["arm64"]
    assert (function["memorySize"], function["timeout"]) == (512, 20)
    assert function["role"] == "arn:aws:iam::123456789012:role/orchestra-worker-dev"
    assert function["loggingConfig"] == {"logFormat": "JSON", "logGroup": "/aws/lambda/orchestra-worker-dev"}
    variables = function["environment"]["variables"]
    assert variables == {
        "KEY_SECRET_ARN": SECRET_ARN,
        "MODE": "strict",
        "RUNS_TABLE_NAME": "orchestra-runs-dev",
        "VERSION": base64.b64decode(function["sourceCodeHash"]).hex(),
    }
    assert len(function["sourceCodeHash"]) == 44
    log_group = plan.one("aws:cloudwatch/logGroup:LogGroup", "worker-logs").inputs
    assert (log_group["name"], log_group["retentionInDays"]) == ("/aws/lambda/orchestra-worker-dev", 30)


def test_role_trusts_only_lambda(package_dir: Path, tmp_path: Path) -> None:
    plan = plan_function(package_dir, tmp_path)
    role = plan.one("aws:iam/role:Role", "worker-role").inputs
    assert role["name"] == "orchestra-worker-dev"
    assert json.loads(role["assumeRolePolicy"])["Statement"] == [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]


def test_policy_grants_exactly_what_the_links_and_logs_need(package_dir: Path, tmp_path: Path) -> None:
    plan = plan_function(package_dir, tmp_path)
    assert grants(statements_of(plan, "worker-policy")) == {
        "logs:CreateLogStream": {f"{LOG_GROUP_ARN}:log-stream:*"},
        "logs:PutLogEvents": {f"{LOG_GROUP_ARN}:log-stream:*"},
        "dynamodb:GetItem": {TABLE_ARN, f"{TABLE_ARN}/index/by_day"},
        "dynamodb:Query": {TABLE_ARN, f"{TABLE_ARN}/index/by_day"},
        "dynamodb:PutItem": {TABLE_ARN},
        "dynamodb:UpdateItem": {TABLE_ARN},
        "secretsmanager:GetSecretValue": {SECRET_ARN},
    }


def test_same_sources_give_the_same_code_hash(package_dir: Path, tmp_path: Path) -> None:
    first = plan_function(package_dir, tmp_path / "a").one("aws:lambda/function:Function", "worker")
    second = plan_function(package_dir, tmp_path / "b").one("aws:lambda/function:Function", "worker")
    assert first.inputs["sourceCodeHash"] == second.inputs["sourceCodeHash"]


def test_function_waits_for_its_log_group(package_dir: Path, tmp_path: Path) -> None:
    plan = plan_function(package_dir, tmp_path, architecture="x86_64")
    function = plan.one("aws:lambda/function:Function", "worker")
    assert function.inputs["architectures"] == ["x86_64"]
    assert plan.one("aws:cloudwatch/logGroup:LogGroup", "worker-logs").urn in function.dependencies


def test_version_follows_the_package_content(package_dir: Path, tmp_path: Path) -> None:
    before = plan_function(package_dir, tmp_path).one("aws:lambda/function:Function", "worker").inputs
    (package_dir / "extra.py").write_text("CHANGED = True\n")
    try:
        after = plan_function(package_dir, tmp_path).one("aws:lambda/function:Function", "worker").inputs
    finally:
        (package_dir / "extra.py").unlink()
    assert before["environment"]["variables"]["VERSION"] != after["environment"]["variables"]["VERSION"]


def plan_queue_consumer(package_dir: Path, tmp_path: Path, **source: int) -> Plan:
    def program() -> None:
        queue = Queue("work", QueueArgs(visibility_timeout_seconds=60))
        Function(
            "worker",
            FunctionArgs(
                package_dir=package_dir,
                handler="app.main.handler",
                timeout_seconds=30,
                queue_source=QueueSource(queue, **source),
                build_dir=tmp_path / "build",
            ),
        )

    return evaluate(program)


def test_queue_source_maps_the_queue_and_reports_failed_messages_one_by_one(package_dir: Path, tmp_path: Path) -> None:
    plan = plan_queue_consumer(package_dir, tmp_path, batch_size=5, batching_window_seconds=2)
    mapping = plan.one("aws:lambda/eventSourceMapping:EventSourceMapping", "worker-queue-source")
    assert mapping.inputs == {
        "eventSourceArn": "arn:aws:sqs:us-east-1:123456789012:orchestra-work-dev",
        # The alias: the queue feeds the version `live` is on, never `$LATEST`.
        "functionName": "arn:aws:lambda:us-east-1:123456789012:function:orchestra-worker-dev:live",
        "batchSize": 5,
        "maximumBatchingWindowInSeconds": 2,
        "functionResponseTypes": ["ReportBatchItemFailures"],
    }
    assert plan.one("aws:iam/rolePolicy:RolePolicy", "worker-policy").urn in mapping.dependencies


def test_queue_consumer_may_receive_and_delete_but_not_send(package_dir: Path, tmp_path: Path) -> None:
    plan = plan_queue_consumer(package_dir, tmp_path)
    queue = "arn:aws:sqs:us-east-1:123456789012:orchestra-work-dev"
    granted = grants(statements_of(plan, "worker-policy"))
    assert {action: resources for action, resources in granted.items() if action.startswith("sqs:")} == {
        "sqs:ReceiveMessage": {queue},
        "sqs:DeleteMessage": {queue},
        "sqs:GetQueueAttributes": {queue},
    }


def test_queue_producer_may_only_send(package_dir: Path, tmp_path: Path) -> None:
    def program() -> None:
        queue = Queue("work", QueueArgs())
        Function(
            "api",
            FunctionArgs(
                package_dir=package_dir,
                handler="app.main.handler",
                links=[queue.link_send("WORK_QUEUE_URL")],
                build_dir=tmp_path / "build",
            ),
        )

    plan = evaluate(program)
    granted = grants(statements_of(plan, "api-policy"))
    assert {action for action in granted if not action.startswith("logs:")} == {"sqs:SendMessage"}
    assert granted["sqs:SendMessage"] == {"arn:aws:sqs:us-east-1:123456789012:orchestra-work-dev"}
    variables = plan.one("aws:lambda/function:Function", "api").inputs["environment"]["variables"]
    assert variables["WORK_QUEUE_URL"] == "https://sqs.us-east-1.amazonaws.com/123456789012/orchestra-work-dev"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"batch_size": 0}, "queue batch size must be 1-10000"),
        ({"batch_size": 11}, "a queue batch size above 10 needs a batching window"),
        ({"batching_window_seconds": 301}, "queue batching window must be 0-300 seconds"),
    ],
)
def test_mappings_lambda_would_refuse_stop_the_program(
    package_dir: Path, tmp_path: Path, source: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=f"function worker: {message}"):
        plan_queue_consumer(package_dir, tmp_path, **source)


def test_a_visibility_timeout_shorter_than_the_function_timeout_stops_the_program(
    package_dir: Path, tmp_path: Path
) -> None:
    def program() -> None:
        queue = Queue("work", QueueArgs(visibility_timeout_seconds=20))
        Function(
            "worker",
            FunctionArgs(
                package_dir=package_dir,
                handler="app.main.handler",
                timeout_seconds=30,
                queue_source=QueueSource(queue),
                build_dir=tmp_path / "build",
            ),
        )

    with pytest.raises(ValueError, match=r"visibility timeout \(20 s\) is shorter than its timeout \(30 s\)"):
        evaluate(program)
