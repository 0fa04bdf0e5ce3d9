from pathlib import Path
from typing import Any

from tools.offline_plan import Plan, PlannedResource, evaluate_project
from tools.offline_plan.render import format_value, render_plan, summary_line

STACK_URN = "urn:pulumi:dev::app::pulumi:pulumi:Stack::app-dev"


def resource(
    urn_type: str, name: str, parent: str = STACK_URN, inputs: dict[str, Any] | None = None, protect: bool = False
) -> PlannedResource:
    type_ = urn_type.split("$")[-1]
    return PlannedResource(
        urn=f"urn:pulumi:dev::app::{urn_type}::{name}",
        type=type_,
        name=name,
        parent=parent,
        custom=not type_.startswith("app:"),
        protect=protect,
        retain_on_delete=protect,
        delete_before_replace=False,
        provider=None,
        dependencies=(),
        inputs=inputs or {},
    )


def test_the_tree_follows_parents_and_shows_markers_and_key_inputs() -> None:
    web = resource("app:index:Web", "web")
    store = resource("app:index:Web$app:index:Store", "web-store", parent=web.urn)
    plan = Plan(
        project="app",
        stack="dev",
        stack_urn=STACK_URN,
        resources=(
            web,
            store,
            resource(
                "app:index:Web$app:index:Store$aws:dynamodb/table:Table",
                "web-store-table",
                parent=store.urn,
                inputs={"name": "app-web-dev", "billingMode": "PAY_PER_REQUEST", "hashKey": "id"},
                protect=True,
            ),
            resource(
                "app:index:Web$aws:lambda/function:Function",
                "web-handler",
                parent=web.urn,
                inputs={"name": "web", "runtime": "python3.12", "environment": {"variables": {"K": "[secret]"}}},
            ),
            resource("aws:sns/topic:Topic", "alarms", inputs={"name": "x" * 80}),
        ),
        outputs={"url": "https://example.test/", "token": "[secret]", "limits": {"rps": 5}},
    )

    assert render_plan(plan) == (
        "app-dev (pulumi:pulumi:Stack)\n"
        f"├─ alarms (aws:sns/topic:Topic) name={'x' * 59}…\n"
        "└─ web (app:index:Web)\n"
        "   ├─ web-handler (aws:lambda/function:Function) name=web runtime=python3.12\n"
        "   └─ web-store (app:index:Store)\n"
        "      └─ web-store-table (aws:dynamodb/table:Table) [protected] [retain on delete]"
        " name=app-web-dev billingMode=PAY_PER_REQUEST\n"
        "\n"
        "Outputs:\n"
        '  limits: {"rps":5}\n'
        "  token: [secret]\n"
        "  url: https://example.test/\n"
        "\n"
        "Plan for app-dev: 5 resources (1 app:index:Store, 1 app:index:Web, 1 aws:dynamodb/table:Table,"
        " 1 aws:lambda/function:Function, 1 aws:sns/topic:Topic)\n"
    )


def test_a_project_plan_renders_with_protection_secrets_and_summary(shop: Path) -> None:
    output = render_plan(evaluate_project(shop, "prod"))

    assert output == (
        "shop-prod (pulumi:pulumi:Stack)\n"
        "└─ api (shop:index:Service)\n"
        "   ├─ api-handler (aws:lambda/function:Function) name=shop-api-prod runtime=python3.12 handler=app.handle"
        " memorySize=256 timeout=10\n"
        "   ├─ api-logs (aws:cloudwatch/logGroup:LogGroup) name=/aws/lambda/shop-api-prod retentionInDays=30\n"
        "   ├─ api-orders (aws:dynamodb/table:Table) [protected] [retain on delete] name=shop-orders-prod"
        " billingMode=PAY_PER_REQUEST\n"
        "   ├─ api-password (random:index/randomPassword:RandomPassword) length=24\n"
        "   ├─ api-role (aws:iam/role:Role)\n"
        "   └─ api-vault (shop:index:Vault) [protected] [retain on delete]\n"
        "\n"
        "Outputs:\n"
        "  account: 123456789012\n"
        "  apiToken: [secret]\n"
        "  invokeArn: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:123456789012:function:shop-api-prod/invocations\n"
        '  owners: ["carol"]\n'
        "  region: us-east-1\n"
        "  tableArn: arn:aws:dynamodb:us-east-1:123456789012:table/shop-orders-prod\n"
        "\n"
        "Plan for shop-prod: 7 resources (1 aws:cloudwatch/logGroup:LogGroup, 1 aws:dynamodb/table:Table,"
        " 1 aws:iam/role:Role, 1 aws:lambda/function:Function, 1 random:index/randomPassword:RandomPassword,"
        " 1 shop:index:Service, 1 shop:index:Vault)\n"
    )


def test_the_summary_counts_most_frequent_types_first() -> None:
    topics = tuple(resource("aws:sns/topic:Topic", f"t{index}") for index in range(3))
    queue = resource("aws:sqs/queue:Queue", "q")

    def plan_of(*resources: PlannedResource) -> Plan:
        return Plan(project="app", stack="dev", stack_urn=STACK_URN, resources=resources, outputs={})

    assert summary_line(plan_of(queue, *topics)) == (
        "Plan for app-dev: 4 resources (3 aws:sns/topic:Topic, 1 aws:sqs/queue:Queue)"
    )
    assert summary_line(plan_of(queue)) == "Plan for app-dev: 1 resource (1 aws:sqs/queue:Queue)"
    assert summary_line(plan_of()) == "Plan for app-dev: 0 resources"


def test_values_print_on_one_line_and_long_ones_are_cut() -> None:
    assert format_value("line one\nline two") == "line one\\nline two"
    assert format_value({"b": [1, True], "a": None}) == '{"a":null,"b":[1,true]}'
    assert format_value("abcdefghij", width=5) == "abcd…"
    assert format_value("[secret]") == "[secret]"
