"""The rollout of a Lambda alias, driven against moto's Lambda with Lambda's routing rules
enforced, traffic on a virtual clock, and alarms fed as CloudWatch feeds them."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pulumi
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pulumi.runtime.proto.provider_pb2 import DiffResponse

from components.providers.lambda_rollout import LambdaRolloutProvider
from components.providers.provider import ProviderError
from tests.components.dynamic_provider_support import hosted

from .lambda_world import ALIAS, FUNCTION, REGION, LambdaWorld, VirtualClock, package

CHECK = {
    "name": "forged-interaction",
    "event": '{"headers": {"x-signature-timestamp": "{now}"}}',
    "expect": {"statusCode": 401},
    "expect_body": {"error": "invalid request signature"},
}
CANARY = [{"weight": 0.1, "bake_seconds": 300}]
ERROR_LOG = {"log_group": f"/aws/lambda/{FUNCTION}", "errors": 1}


@pytest.fixture
def world() -> Iterator[LambdaWorld]:
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = boto3.client("lambda", region_name=REGION)
        client.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="main.handler",
            Code={"ZipFile": package("0")},
        )
        yield LambdaWorld(client, VirtualClock(1_800_000_000.0 - 1_800_000_000.0 % 60))


def provider(world: LambdaWorld) -> LambdaRolloutProvider:
    return LambdaRolloutProvider(client=world.client, clock=world.clock)


def props(version: str, alarms: list[str], steps: list[dict[str, Any]] = CANARY) -> dict[str, Any]:
    return {
        "region": REGION,
        "function_name": FUNCTION,
        "alias_name": ALIAS,
        "version": version,
        "steps": steps,
        "alarm_names": alarms,
        "error_log": ERROR_LOG,
        "checks": [CHECK],
        "poll_seconds": 10,
        "additional_version_weights": None,
    }


def live(world: LambdaWorld) -> tuple[str, dict[str, float]]:
    alias = world.moto_lambda.get_alias(FunctionName=FUNCTION, Name=ALIAS)
    return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def deployed(world: LambdaWorld) -> tuple[str, dict[str, Any]]:
    """Version 1 serving all traffic through the alias, as the first deploy leaves it."""
    v1 = world.publish("1")
    state = provider(world).create(props(v1, world.watch(v1))).outs
    assert state is not None
    world.calls.clear()
    return v1, state


def kinds(world: LambdaWorld) -> list[str]:
    return [kind for kind, _ in world.calls]


@pytest.fixture
def said(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the provider says on its info channel, which `pulumi up` prints."""
    lines: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lines.append)
    return lines


def figures_read(world: LambdaWorld, version: str, since: float, until: float) -> tuple[str, dict[str, Any]]:
    """The GetMetricData call for what `version` served through the alias from `since` to `until`."""
    dimensions = [
        {"Name": "FunctionName", "Value": FUNCTION},
        {"Name": "Resource", "Value": f"{FUNCTION}:{ALIAS}"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    return (
        "GetMetricData",
        {
            "MetricDataQueries": [
                {
                    "Id": figure,
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": dimensions},
                        "Period": int(until - since),
                        "Stat": stat,
                    },
                }
                for figure, metric, stat in (
                    ("requests", "Invocations", "Sum"),
                    ("errors", "Errors", "Sum"),
                    ("p99", "Duration", "p99"),
                )
            ],
            "StartTime": datetime.fromtimestamp(since, UTC),
            "EndTime": datetime.fromtimestamp(until, UTC),
        },
    )


def test_a_first_deploy_checks_the_version_then_creates_the_alias_on_it(world: LambdaWorld) -> None:
    v1 = world.publish("1")
    result = provider(world).create(props(v1, world.watch(v1)))
    assert result.id == f"{FUNCTION}:{ALIAS}"
    assert world.calls == [
        ("GetAlias", {"FunctionName": FUNCTION, "Name": ALIAS}),
        ("Invoke", {"FunctionName": FUNCTION, "Qualifier": v1}),
        ("CreateAlias", {"FunctionName": FUNCTION, "Name": ALIAS, "FunctionVersion": v1}),
    ]
    assert live(world) == (v1, {})
    assert (result.outs or {})["version"] == v1


def test_a_healthy_canary_bakes_at_its_share_then_takes_all_traffic(world: LambdaWorld, said: list[str]) -> None:
    v1, state = deployed(world)
    v2 = world.publish("2")
    world.durations_ms[v2] = [12.0] * 19 + [340.0]
    alarms = world.watch(v2)
    result = provider(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, alarms))
    route = {"FunctionName": FUNCTION, "Name": ALIAS}
    assert world.calls[:3] == [
        ("GetAlias", route),
        ("Invoke", {"FunctionName": FUNCTION, "Qualifier": v2}),
        ("UpdateAlias", {**route, "FunctionVersion": v1, "RoutingConfig": {"AdditionalVersionWeights": {v2: 0.1}}}),
    ]
    # Polled every 10 s for the 5 minutes: at the start, then 30 times; the streams since the step began.
    started = world.alias_changes[-2][0]
    errors = {
        "logGroupName": f"/aws/lambda/{FUNCTION}",
        "logStreamNamePrefix": f"2027/01/15/[{v2}]",
        "startTime": int(started * 1000),
        "filterPattern": '{ $.level = "ERROR" || $.log_level = "ERROR" }',
        "limit": 1,
    }
    assert world.calls[3:-2] == [("DescribeAlarms", {"AlarmNames": alarms}), ("FilterLogEvents", errors)] * 31
    assert world.calls[-2] == (
        "UpdateAlias",
        {**route, "FunctionVersion": v2, "RoutingConfig": {"AdditionalVersionWeights": {}}},
    )
    assert live(world) == (v2, {})
    assert (result.outs or {})["version"] == v2
    assert len(world.served_by(v2)) == len(world.requests) // 10 == 60
    # Once all traffic is on it, what it served in the step: the step's last minute has not reached
    # CloudWatch yet, so 48 of its 60 requests, one in 20 of them slow.
    assert world.calls[-1] == figures_read(world, v2, started, started + 300)
    assert said == [
        f"function {FUNCTION}: version {v2} promoted after 10% for 300 s: 48 requests, 0 errors (0.0%), "
        "p99 duration 340 ms (as CloudWatch had them at the promotion)"
    ]


def test_each_step_is_reported_over_its_own_whole_minutes(world: LambdaWorld, said: list[str]) -> None:
    _, state = deployed(world)
    world.clock.sleep(15)
    v2 = world.publish("2")
    steps = [{"weight": 0.1, "bake_seconds": 120}, {"weight": 0.5, "bake_seconds": 120}]
    provider(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2), steps=steps))
    first, second = world.alias_changes[-3][0], world.alias_changes[-2][0]
    assert (first % 60, second - first) == (15, 120)
    # Each step's window in whole minutes, from the one it started in to the one it ended in: the
    # first step's ends where the second's begins, and no minute counts twice.
    minute = first - 15
    assert world.calls[-2:] == [
        figures_read(world, v2, minute, minute + 120),
        figures_read(world, v2, minute + 120, minute + 240),
    ]
    # The first step's 105 s at 10% are in CloudWatch at the promotion; of the second's window, only
    # its first minute is (the first step's last 15 s at 10%, then 45 s at 50%).
    assert said == [
        f"function {FUNCTION}: version {v2} promoted after 10% for 120 s: 21 requests, 0 errors (0.0%), "
        "p99 duration 20 ms; 50% for 120 s: 48 requests, 0 errors (0.0%), p99 duration 20 ms "
        "(as CloudWatch had them at the promotion)"
    ]


def without_metrics(world: LambdaWorld) -> LambdaRolloutProvider:
    """The rollout, with a role that may not read CloudWatch's metrics (its alarms it may)."""

    def refused(**_query: Any) -> dict[str, Any]:
        error = {"Code": "AccessDenied", "Message": "not authorized to perform: cloudwatch:GetMetricData"}
        raise ClientError({"Error": error}, "GetMetricData")

    def client(service: str, region: str) -> Any:
        made = world.client(service, region)
        if service == "cloudwatch":
            made.get_metric_data = refused
        return made

    return LambdaRolloutProvider(client=client, clock=world.clock)


def test_a_metrics_read_that_fails_still_promotes_and_says_the_figures_are_unavailable(
    world: LambdaWorld, said: list[str]
) -> None:
    _, state = deployed(world)
    v2 = world.publish("2")
    without_metrics(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2)))
    assert live(world) == (v2, {})
    assert said == [
        f"function {FUNCTION}: version {v2} promoted after 10% for 300 s: "
        "figures unavailable, CloudWatch could not be read (ClientError)"
    ]


def test_a_metrics_read_that_fails_leaves_a_rollback_as_it_was(world: LambdaWorld) -> None:
    v1, state = deployed(world)
    v2 = world.publish("2")
    world.failing.add(v2)
    with pytest.raises(ProviderError, match=f"version {v2} rolled back to {v1} at 10% of traffic: 1 ERROR") as failure:
        without_metrics(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2)))
    assert live(world) == (v1, {})
    assert str(failure.value).endswith(
        "; what it served in that step: figures unavailable, CloudWatch could not be read (ClientError)"
    )


def test_a_failing_canary_goes_back_to_zero_and_fails_the_update(world: LambdaWorld, said: list[str]) -> None:
    v1, state = deployed(world)
    v2 = world.publish("2")
    world.failing.add(v2)
    with pytest.raises(ProviderError, match=f"version {v2} rolled back to {v1} at 10% of traffic: 1 ERROR records"):
        provider(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2)))
    assert live(world) == (v1, {})
    # Traffic goes back first; then what it served is read.
    assert kinds(world)[-2:] == ["UpdateAlias", "GetMetricData"]
    assert world.calls[-2][1]["RoutingConfig"] == {"AdditionalVersionWeights": {}}
    assert said == []
    bad = world.served_by(v2)
    assert bad and len(bad) <= len(world.requests) * 0.1
    back_at = world.alias_changes[-1][0]
    # The record's delay, and one poll.
    assert back_at - bad[0].at <= world.log_delay + 10
    # Nothing reaches the bad version once the alias is back.
    world.clock.sleep(60)
    assert world.served_by(v2) == bad


def test_without_logged_errors_the_alarms_alone_roll_a_failing_canary_back(world: LambdaWorld) -> None:
    v1, state = deployed(world)
    v2 = world.publish("2")
    world.failing.add(v2)
    with pytest.raises(ProviderError, match="discord-gate-errors-2: 12 errors in the minute") as failure:
        provider(world).update(f"{FUNCTION}:{ALIAS}", state, {**props(v2, world.watch(v2)), "error_log": None})
    assert live(world) == (v1, {})
    # The alarm's minute is in CloudWatch by then, and the failure says what the version served.
    assert str(failure.value).endswith(
        "; what it served in that step: 12 requests, 12 errors (100.0%), p99 duration 20 ms "
        "(as CloudWatch had them at the rollback)"
    )
    bad = world.served_by(v2)
    # The minute the first bad response fell in, its data point's delay, and one poll.
    assert world.alias_changes[-1][0] - bad[0].at <= 60 + world.metric_delay + 10


def test_the_next_up_after_a_rollback_shifts_again_to_whatever_version_the_function_has(world: LambdaWorld) -> None:
    _, state = deployed(world)
    v2 = world.publish("2")
    world.failing.add(v2)
    rollout = provider(world)
    with pytest.raises(ProviderError):
        rollout.update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2)))
    # The failed update left the state on v1: the next plan sees a change, and a fixed v3 goes out.
    assert rollout.diff(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2))).changes
    v3 = world.publish("3")
    rollout.update(f"{FUNCTION}:{ALIAS}", state, props(v3, world.watch(v3)))
    assert live(world) == (v3, {})


def test_a_failed_pre_traffic_check_leaves_the_alias_and_serves_nobody(world: LambdaWorld) -> None:
    v1, state = deployed(world)
    v2 = world.publish("2")
    world.check_answers[v2] = {"statusCode": 500, "body": '{"error": "boom"}'}
    with pytest.raises(ProviderError, match="failed its pre-traffic check forged-interaction: statusCode was 500"):
        provider(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2)))
    assert kinds(world) == ["GetAlias", "Invoke"]
    assert live(world) == (v1, {})


def test_a_version_that_raises_or_answers_the_wrong_body_fails_its_check(world: LambdaWorld) -> None:
    v1, state = deployed(world)
    v2 = world.publish("2")
    world.check_answers[v2] = {"errorType": "ImportError", "errorMessage": "no module"}
    with pytest.raises(ProviderError, match="it raised"):
        provider(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2)))
    world.check_answers[v2] = {"statusCode": 401, "body": '{"error": "missing header"}'}
    with pytest.raises(ProviderError, match="body error was 'missing header'"):
        provider(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2)))
    assert live(world) == (v1, {})


def test_without_steps_a_checked_version_takes_all_traffic_at_once(world: LambdaWorld, said: list[str]) -> None:
    _, state = deployed(world)
    v2 = world.publish("2")
    provider(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2), steps=[]))
    assert kinds(world) == ["GetAlias", "Invoke", "UpdateAlias"]
    assert live(world) == (v2, {})
    # As a worker deployed at once says so: no figures, since no step was watched.
    assert said == [f"function {FUNCTION}: version {v2} deployed at once (no canary steps)"]


def test_an_interrupted_shift_is_read_as_a_change_and_cleared_before_the_next(world: LambdaWorld) -> None:
    v1, state = deployed(world)
    v2 = world.publish("2")
    world.moto_lambda.update_alias(
        FunctionName=FUNCTION, Name=ALIAS, FunctionVersion=v1, RoutingConfig={"AdditionalVersionWeights": {v2: 0.1}}
    )
    rollout = provider(world)
    refreshed = rollout.read(f"{FUNCTION}:{ALIAS}", state).outs
    assert refreshed is not None
    assert (refreshed["version"], refreshed["additional_version_weights"]) == (v1, {v2: 0.1})
    assert rollout.diff(f"{FUNCTION}:{ALIAS}", refreshed, props(v1, world.watch(v1))).changes
    world.calls.clear()
    rollout.update(f"{FUNCTION}:{ALIAS}", refreshed, props(v1, world.watch(v1)))
    assert world.calls[1] == (
        "UpdateAlias",
        {
            "FunctionName": FUNCTION,
            "Name": ALIAS,
            "FunctionVersion": v1,
            "RoutingConfig": {"AdditionalVersionWeights": {}},
        },
    )
    assert live(world) == (v1, {})


def test_refresh_reads_a_version_promoted_by_hand_and_then_shows_no_change(world: LambdaWorld) -> None:
    v1, state = deployed(world)
    v2 = world.publish("2")
    world.moto_lambda.update_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion=v2)
    rollout = provider(world)
    refreshed = rollout.read(f"{FUNCTION}:{ALIAS}", state).outs
    assert refreshed is not None
    assert refreshed["version"] == v2
    assert not rollout.diff(f"{FUNCTION}:{ALIAS}", refreshed, props(v2, list(state["alarm_names"]))).changes
    assert rollout.diff(f"{FUNCTION}:{ALIAS}", state, props(v1, list(state["alarm_names"]))).changes is False


def test_an_alias_deleted_by_hand_drops_out_of_the_state_and_delete_tolerates_it(world: LambdaWorld) -> None:
    _, state = deployed(world)
    rollout = provider(world)
    rollout.delete(f"{FUNCTION}:{ALIAS}", state)
    assert rollout.read(f"{FUNCTION}:{ALIAS}", state).id is None
    rollout.delete(f"{FUNCTION}:{ALIAS}", state)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"2": 1.5}, "outside"),
        ({"2": 0.1, "3": 0.1}, "at most one"),
        ({"9": 0.1}, "does not exist"),
        ({"1": 0.1}, "differ"),
    ],
)
def test_the_world_refuses_routing_lambda_refuses(world: LambdaWorld, weights: dict[str, float], message: str) -> None:
    deployed(world)
    world.publish("2")
    world.publish("3")
    with pytest.raises(ClientError, match=message):
        world.update_alias(
            FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": weights}
        )


@pytest.mark.parametrize(
    ("override", "failed"),
    [
        ({"version": "$LATEST"}, "version"),
        ({"steps": [{"weight": 1.0, "bake_seconds": 60}]}, "steps"),
        ({"steps": [{"weight": 0.5, "bake_seconds": 60}, {"weight": 0.2, "bake_seconds": 60}]}, "steps"),
        ({"steps": [{"weight": 0.1, "bake_seconds": -1}]}, "steps"),
        ({"poll_seconds": 0}, "poll_seconds"),
        ({"alias_name": ""}, "alias_name"),
    ],
)
def test_check_refuses_what_lambda_or_the_gate_could_not_do(override: dict[str, Any], failed: str) -> None:
    failures = LambdaRolloutProvider().check({}, {**props("2", []), **override}).failures
    assert [f.property for f in failures] == [failed]


def test_a_changed_identity_replaces_and_a_new_version_updates() -> None:
    rollout = LambdaRolloutProvider()
    old = {**props("1", []), "additional_version_weights": {}}
    assert rollout.diff("id", old, props("2", [])).replaces == []
    assert rollout.diff("id", old, props("2", [])).changes
    assert rollout.diff("id", old, {**props("1", []), "function_name": "other"}).replaces == ["function_name"]
    assert not rollout.diff("id", old, props("1", [])).changes


def test_the_real_provider_host_loads_the_rollout_and_plans_a_new_version_as_an_update() -> None:
    """The CLI's host unpickles the provider (by module path) and answers check and diff without
    calling AWS: a preview costs no AWS call and needs no credentials."""
    urn = f"urn:pulumi:dev::orchestra::pulumi-python:dynamic/aws:LambdaRollout::{FUNCTION}-live"
    with hosted(LambdaRolloutProvider(), urn, {}) as host:
        state = {**host.check({}, props("1", ["gate"])), "additional_version_weights": {}}
        news = host.check(state, props("2", ["gate"]))
        diff = host.diff(f"{FUNCTION}:{ALIAS}", state, news)
        unchanged = host.diff(f"{FUNCTION}:{ALIAS}", state, host.check(state, props("1", ["gate"])))
    assert (diff.changes, list(diff.replaces)) == (DiffResponse.DIFF_SOME, [])
    assert unchanged.changes == DiffResponse.DIFF_NONE
