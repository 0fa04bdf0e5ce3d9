import asyncio
import gc
import sys
import threading
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pytest

from tools.offline_plan import PLACEHOLDER_PREFIX, Plan, evaluate, evaluate_project

SERVICE = "urn:pulumi:{stack}::shop::shop:index:Service"


def test_the_plan_holds_every_registration_with_its_parent_and_real_urns(shop: Path) -> None:
    plan = evaluate_project(shop, "dev")

    assert plan.project == "shop"
    assert plan.stack == "dev"
    assert plan.stack_urn == "urn:pulumi:dev::shop::pulumi:pulumi:Stack::shop-dev"
    assert {(resource.type, resource.name) for resource in plan.resources} == {
        ("shop:index:Service", "api"),
        ("aws:dynamodb/table:Table", "api-orders"),
        ("random:index/randomPassword:RandomPassword", "api-password"),
        ("aws:iam/role:Role", "api-role"),
        ("aws:lambda/function:Function", "api-handler"),
        ("aws:cloudwatch/logGroup:LogGroup", "api-logs"),
        ("shop:index:Vault", "api-vault"),
    }
    service = plan.one("shop:index:Service", "api")
    assert service.urn == "urn:pulumi:dev::shop::shop:index:Service::api"
    assert service.parent == plan.stack_urn
    assert not service.custom
    assert [resource.name for resource in plan.children_of(service.urn)] == [
        "api-logs",
        "api-orders",
        "api-role",
        "api-handler",
        "api-password",
        "api-vault",
    ]
    table = plan.one("aws:dynamodb/table:Table", "api-orders")
    assert table.urn == "urn:pulumi:dev::shop::shop:index:Service$aws:dynamodb/table:Table::api-orders"
    assert table.custom
    assert table.inputs == {
        "attributes": [{"name": "id", "type": "S"}],
        "billingMode": "PAY_PER_REQUEST",
        "hashKey": "id",
        "name": "shop-orders-dev",
    }


def test_a_urn_carries_the_whole_chain_of_its_parents_types() -> None:
    """As the engine writes it: the parent's qualified type, itself qualified by its parent's."""

    def program() -> None:
        outer = pulumi.ComponentResource("app:index:Outer", "outer")
        inner = pulumi.ComponentResource("app:index:Inner", "outer-inner", opts=pulumi.ResourceOptions(parent=outer))
        aws.sns.Topic("outer-inner-topic", opts=pulumi.ResourceOptions(parent=inner))

    plan = evaluate(program)
    assert plan.one("aws:sns/topic:Topic", "outer-inner-topic").urn == (
        "urn:pulumi:dev::orchestra::app:index:Outer$app:index:Inner$aws:sns/topic:Topic::outer-inner-topic"
    )


def test_dependencies_come_from_inputs_and_depends_on() -> None:
    def program() -> None:
        topic = aws.sns.Topic("alarms")
        queue = aws.sqs.Queue("jobs")
        aws.sns.TopicSubscription(
            "jobs-alarms",
            topic=topic.arn,
            protocol="sqs",
            endpoint="arn:aws:sqs:us-east-1:123456789012:elsewhere",
            opts=pulumi.ResourceOptions(depends_on=[queue]),
        )
        aws.sns.Topic("unrelated")

    plan = evaluate(program)

    assert plan.one("aws:sns/topicSubscription:TopicSubscription", "jobs-alarms").dependencies == (
        "urn:pulumi:dev::orchestra::aws:sns/topic:Topic::alarms",
        "urn:pulumi:dev::orchestra::aws:sqs/queue:Queue::jobs",
    )
    assert plan.one("aws:sns/topic:Topic", "unrelated").dependencies == ()


def test_protection_follows_the_stack_configuration(shop: Path) -> None:
    dev = evaluate_project(shop, "dev")
    prod = evaluate_project(shop, "prod")

    assert [r.name for r in dev.resources if r.protect or r.retain_on_delete] == []
    assert [(r.name, r.protect, r.retain_on_delete) for r in prod.resources if r.protect or r.retain_on_delete] == [
        ("api-orders", True, True),
        ("api-vault", True, True),
    ]


def test_secrets_stay_secret_in_inputs_and_outputs(shop: Path) -> None:
    plan = evaluate_project(shop, "prod")

    assert plan.one("shop:index:Vault", "api-vault").inputs == {"label": "upstream", "token": "[secret]"}
    # RandomPassword.result is secret only because the engine honours additional_secret_outputs.
    assert plan.one("aws:lambda/function:Function", "api-handler").inputs["environment"] == {
        "variables": {"PASSWORD": "[secret]", "TABLE": "shop-orders-prod"}
    }
    assert plan.outputs["apiToken"] == "[secret]"
    assert PLACEHOLDER_PREFIX not in plan.to_json()
    assert plan.unmarked_secrets == ()


def test_mocked_outputs_and_invokes_resolve_to_plausible_values(shop: Path) -> None:
    plan = evaluate_project(shop, "dev")

    assert plan.outputs == {
        "account": "123456789012",
        "apiToken": "[secret]",
        "invokeArn": (
            "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
            "arn:aws:lambda:eu-west-1:123456789012:function:shop-api-dev/invocations"
        ),
        "owners": ["alice", "bob"],
        "region": "eu-west-1",
        "tableArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/shop-orders-dev",
    }
    function = plan.one("aws:lambda/function:Function", "api-handler")
    # The role has no `name` input, so its ARN carries the logical name.
    assert function.inputs["role"] == "arn:aws:iam::123456789012:role/api-role"
    assert plan.one("aws:cloudwatch/logGroup:LogGroup", "api-logs").inputs == {
        "name": "/aws/lambda/shop-api-dev",
        "retentionInDays": 7,
    }


def test_the_json_is_identical_from_run_to_run(shop: Path) -> None:
    assert evaluate_project(shop, "prod").to_json() == evaluate_project(shop, "prod").to_json()


def test_stacks_evaluated_in_one_process_are_independent(shop: Path) -> None:
    first_dev = evaluate_project(shop, "dev")
    prod = evaluate_project(shop, "prod")
    second_dev = evaluate_project(shop, "dev")

    assert first_dev.to_json() == second_dev.to_json()
    assert prod.one("aws:cloudwatch/logGroup:LogGroup", "api-logs").inputs["retentionInDays"] == 30
    assert {r.urn.split("::")[0] for r in prod.resources} == {"urn:pulumi:prod"}
    # The project's own modules are imported afresh by each run.
    assert "service" not in sys.modules


def test_the_json_round_trips(shop: Path) -> None:
    plan = evaluate_project(shop, "prod")

    assert Plan.from_json(plan.to_json()) == plan


def test_a_run_error_from_the_program_reaches_the_caller(shop: Path) -> None:
    with pytest.raises(pulumi.RunError, match=r"^shop:logRetentionDays: must be one of 7, 30, 90 \(got 5\)$"):
        evaluate_project(shop, "broken")


class Queue(pulumi.ComponentResource):
    def __init__(self, name: str, retention_days: int, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("test:index:Queue", name, None, opts)
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=f"{name}-{pulumi.get_stack()}",
            message_retention_seconds=retention_days * 86400,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.register_outputs({})


def test_evaluate_runs_a_single_component_with_the_given_config() -> None:
    def program() -> None:
        config = pulumi.Config()
        queue = Queue("jobs", config.require_int("retentionDays"))
        pulumi.export("url", queue.queue.url)
        pulumi.export("token", config.require_secret("token"))

    plan = evaluate(
        program,
        stack="qa",
        config={"orchestra:retentionDays": "2", "orchestra:token": "t0ps3cret", "aws:region": "eu-central-1"},
        secret_keys=["orchestra:token"],
    )

    component = plan.one("test:index:Queue", "jobs")
    [queue] = plan.children_of(component.urn)
    assert queue.type == "aws:sqs/queue:Queue"
    assert queue.protect
    assert queue.inputs == {"messageRetentionSeconds": 172800, "name": "jobs-qa"}
    assert plan.outputs == {"token": "[secret]", "url": "https://sqs.eu-central-1.amazonaws.com/123456789012/jobs-qa"}
    assert "t0ps3cret" not in plan.to_json()


def test_a_secret_read_without_its_marking_is_hidden_and_reported() -> None:
    def program() -> None:
        token = pulumi.Config().require("token")
        aws.sns.Topic("logs", tags={"token": token})

    plan = evaluate(program, config={"orchestra:token": f"{PLACEHOLDER_PREFIX}orchestra:token"})

    bucket = plan.one("aws:sns/topic:Topic", "logs")
    assert bucket.inputs == {"tags": {"token": "[secret]"}}
    assert plan.unmarked_secrets == (f"{bucket.urn}: tags.token",)


def test_random_results_are_deterministic_and_secret_where_the_engine_would_say_so() -> None:
    def program() -> None:
        password = random.RandomPassword("password", length=12)
        suffix = random.RandomString("suffix", length=6, special=False)
        pulumi.export("password", password.result)
        pulumi.export("suffix", suffix.result)

    first, second = evaluate(program), evaluate(program)

    assert first.outputs["password"] == "[secret]"
    assert len(first.outputs["suffix"]) == 6
    assert first.outputs == second.outputs


def test_program_logs_become_diagnostics() -> None:
    plan = evaluate(lambda: pulumi.log.warn("no alarm email configured"))

    assert plan.diagnostics == ("warning: no alarm email configured",)


def test_a_duplicate_urn_fails_as_it_would_in_the_engine() -> None:
    def program() -> None:
        aws.sns.Topic("twice")
        aws.sns.Topic("twice")

    duplicate = "Duplicate resource URN 'urn:pulumi:dev::orchestra::aws:sns/topic:Topic::twice'"
    with pytest.raises(Exception, match=duplicate):
        evaluate(program)


def test_evaluate_leaves_the_callers_own_pulumi_mocks_alone() -> None:
    """A test that set up its own mocks keeps its root stack and config around an evaluation."""

    class EchoMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-own", args.inputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
            return {}, []

    seen: dict[str, Any] = {}

    def caller() -> None:
        # Its own thread, so the pytest thread's runtime is not touched by this test either.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        pulumi.runtime.set_mocks(EchoMocks(), project="caller", stack="mine", preview=False)
        pulumi.runtime.set_all_config({"caller:flag": "on"})
        seen["plan"] = evaluate(lambda: aws.sns.Topic("inside"), config={"orchestra:flag": "off"})
        seen["flag"] = pulumi.Config("caller").get("flag")
        after = aws.sns.Topic("after")
        seen["after"] = loop.run_until_complete(after.urn.future())

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join()

    assert [r.urn for r in seen["plan"].resources] == ["urn:pulumi:dev::orchestra::aws:sns/topic:Topic::inside"]
    assert seen["flag"] == "on"
    assert seen["after"] == "urn:pulumi:mine::caller::pulumi:pulumi:Stack$aws:sns/topic:Topic::after"


def test_the_collector_is_paused_while_a_program_runs_and_back_on_after() -> None:
    collecting: list[bool] = []
    evaluate(lambda: collecting.append(gc.isenabled()))
    assert collecting == [False]
    assert gc.isenabled()


def test_no_event_loop_is_left_open_by_resources_or_invokes() -> None:
    """The mock monitor runs on the SDK's worker threads and makes event loops there; an open one is
    collected later, possibly half torn down, and fails in `__del__` during an unrelated test."""

    def program() -> None:
        identity = aws.get_caller_identity_output()
        aws.sns.Topic("alerts", name=identity.account_id.apply(lambda account: f"alerts-{account}"))
        random.RandomPassword("password", length=16)

    def open_loops() -> set[int]:
        return {
            id(obj) for obj in gc.get_objects() if isinstance(obj, asyncio.AbstractEventLoop) and not obj.is_closed()
        }

    before = open_loops()
    evaluate(program)
    assert open_loops() - before == set()
