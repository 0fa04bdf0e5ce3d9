import json
from pathlib import Path

import pytest

from components.aws.function import Function, FunctionArgs
from components.aws.http_api import HttpApi, HttpApiArgs, Route
from tools.offline_plan import Plan, evaluate


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    root = tmp_path_factory.mktemp("api")
    (root / "app").mkdir()
    (root / "app" / "main.py").write_text("def handler(event, context):\n    return None\n")

    def program() -> None:
        def function(name: str) -> Function:
            return Function(name, FunctionArgs(package_dir=root / "app", handler="app.main.handler", build_dir=root))

        HttpApi(
            "hooks",
            HttpApiArgs(
                routes=[
                    Route("POST", "/discord/interactions", function("discord")),
                    Route("POST", "/github", function("github")),
                ],
                access_log_retention_days=30,
                rate_limit=10,
                burst_limit=20,
            ),
        )

    return evaluate(program, stack="prod")


def test_children(plan: Plan) -> None:
    component = plan.one("orchestra:aws:HttpApi", "hooks")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("aws:apigatewayv2/api:Api", "hooks"),
        ("aws:apigatewayv2/integration:Integration", "hooks-post-discord-interactions"),
        ("aws:apigatewayv2/integration:Integration", "hooks-post-github"),
        ("aws:apigatewayv2/route:Route", "hooks-post-discord-interactions"),
        ("aws:apigatewayv2/route:Route", "hooks-post-github"),
        ("aws:apigatewayv2/stage:Stage", "hooks-stage"),
        ("aws:cloudwatch/logGroup:LogGroup", "hooks-access-logs"),
        ("aws:lambda/permission:Permission", "hooks-post-discord-interactions-invoke"),
        ("aws:lambda/permission:Permission", "hooks-post-github-invoke"),
    ]
    assert plan.one("aws:apigatewayv2/api:Api", "hooks").inputs == {
        "name": "orchestra-hooks-prod",
        "protocolType": "HTTP",
    }


def test_routes_proxy_to_their_functions(plan: Plan) -> None:
    integration = plan.one("aws:apigatewayv2/integration:Integration", "hooks-post-github").inputs
    assert integration["integrationType"] == "AWS_PROXY"
    assert integration["payloadFormatVersion"] == "2.0"
    assert integration["integrationUri"] == "arn:aws:lambda:us-east-1:123456789012:function:orchestra-github-prod:live"
    route = plan.one("aws:apigatewayv2/route:Route", "hooks-post-github").inputs
    assert route["routeKey"] == "POST /github"
    assert route["target"].startswith("integrations/")


def test_invoke_permission_is_scoped_to_the_route(plan: Plan) -> None:
    permission = plan.one("aws:lambda/permission:Permission", "hooks-post-discord-interactions-invoke").inputs
    assert permission["action"] == "lambda:InvokeFunction"
    assert (permission["function"], permission["qualifier"]) == ("orchestra-discord-prod", "live")
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["sourceArn"].endswith("/*/POST/discord/interactions")


def test_default_stage_logs_every_request_and_throttles(plan: Plan) -> None:
    stage = plan.one("aws:apigatewayv2/stage:Stage", "hooks-stage").inputs
    assert (stage["name"], stage["autoDeploy"]) == ("$default", True)
    assert stage["defaultRouteSettings"] == {"throttlingRateLimit": 10, "throttlingBurstLimit": 20}
    log_format = json.loads(stage["accessLogSettings"]["format"])
    assert {"requestId", "status", "routeKey", "integrationError"} <= set(log_format)
    logs = plan.one("aws:cloudwatch/logGroup:LogGroup", "hooks-access-logs").inputs
    assert stage["accessLogSettings"]["destinationArn"].endswith(":log-group:" + logs["name"])
    assert logs == {"name": "/aws/apigateway/orchestra-hooks-prod", "retentionInDays": 30}


def test_a_route_declared_twice_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()

    def program() -> None:
        fn = Function("fn", FunctionArgs(package_dir=tmp_path / "app", handler="app.main.handler", build_dir=tmp_path))
        HttpApi("api", HttpApiArgs(routes=[Route("GET", "/x", fn), Route("GET", "/x", fn)]))

    with pytest.raises(ValueError, match="HTTP API api: a route is declared twice"):
        evaluate(program)


def test_an_any_route_lets_every_method_reach_its_function(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()

    def program() -> None:
        args = FunctionArgs(package_dir=tmp_path / "app", handler="app.main.handler", build_dir=tmp_path)
        fn = Function("health", args)
        HttpApi("api", HttpApiArgs(routes=[Route("ANY", "/healthz", fn)]))

    plan = evaluate(program)
    assert plan.one("aws:apigatewayv2/route:Route", "api-any-healthz").inputs["routeKey"] == "ANY /healthz"
    permission = plan.one("aws:lambda/permission:Permission", "api-any-healthz-invoke").inputs
    assert permission["sourceArn"].endswith("/*/*/healthz")
