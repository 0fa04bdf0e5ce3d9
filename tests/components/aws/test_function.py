import json
from pathlib import Path

import pytest

from components.aws.function import Function, FunctionArgs
from components.aws.secret import Secret, SecretArgs
from components.aws.table import GlobalIndex, Table, TableArgs
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
        Function("worker", FunctionArgs(**args))  # type: ignore[arg-type]

    return evaluate(program, stack=stack)


def test_children_are_function_role_policy_and_log_group(package_dir: Path, tmp_path: Path) -> None:
    plan = plan_function(package_dir, tmp_path)
    component = plan.one("orchestra:aws:Function", "worker")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("aws:cloudwatch/logGroup:LogGroup", "worker-logs"),
        ("aws:iam/role:Role", "worker-role"),
        ("aws:iam/rolePolicy:RolePolicy", "worker-policy"),
        ("aws:lambda/function:Function", "worker"),
    ]


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
    assert function["environment"] == {
        "variables": {"KEY_SECRET_ARN": SECRET_ARN, "MODE": "strict", "RUNS_TABLE_NAME": "orchestra-runs-dev"}
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
