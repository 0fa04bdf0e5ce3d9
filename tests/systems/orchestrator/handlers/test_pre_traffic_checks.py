"""The pre-traffic checks the stacks declare, run by the rollout provider against the real
handlers (in-process, on moto): each passes on a version that works and fails on one that
cannot read what it needs."""

import io
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from components.providers.lambda_rollout import LambdaRolloutProvider
from components.providers.provider import ProviderError
from systems.orchestrator.handlers import discord_interactions, github_webhook, health, worker
from tests.systems.orchestrator.handlers.support import FrozenClock
from tools.offline_plan import Plan

Handler = Callable[[Mapping[str, Any], object], Any]


class InProcessLambda:
    """Lambda's Invoke answered by the handler itself: its answer, or the error Lambda reports."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def invoke(self, FunctionName: str, Qualifier: str, Payload: bytes) -> dict[str, Any]:
        try:
            answer: Any = self.handler(json.loads(Payload), None)
        except Exception as error:  # what Lambda reports as an unhandled function error
            answer = {"errorType": type(error).__name__, "errorMessage": str(error)}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(answer).encode())}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


class Clock:
    def __init__(self, frozen: FrozenClock) -> None:
        self.frozen = frozen

    def now(self) -> float:
        return self.frozen.now.timestamp()

    def sleep(self, seconds: float) -> None:
        raise AssertionError("checks never wait")


def run_checks(plan: Plan, function: str, handler: Handler, frozen: FrozenClock) -> None:
    rollout = plan.one("pulumi-python:dynamic/aws:LambdaRollout", f"orchestrator-{function}-live").inputs
    provider = LambdaRolloutProvider(client=lambda _service, _region: InProcessLambda(handler), clock=Clock(frozen))
    provider._run_checks(rollout)


@pytest.fixture
def plan(shipped_plan: Plan) -> Plan:
    return shipped_plan


@pytest.fixture
def endpoints(
    runs_table: Any, work: Any, discord_public_key_secret: str, github_webhook_secret: str, frozen_clock: FrozenClock
) -> FrozenClock:
    return frozen_clock


def test_each_endpoints_checks_pass_on_a_working_version(
    plan: Plan, endpoints: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERSION", "9f" * 32)
    run_checks(plan, "discord", discord_interactions.handler, endpoints)
    run_checks(plan, "github", github_webhook.handler, endpoints)
    run_checks(plan, "health", health.handler, endpoints)


def test_the_workers_check_passes_on_a_working_version(
    plan: Plan, worker_environment: None, frozen_clock: FrozenClock
) -> None:
    run_checks(plan, "worker", worker.handler, frozen_clock)


@pytest.mark.parametrize(
    ("function", "setting", "handler"),
    [
        ("discord", "DISCORD_PUBLIC_KEY_SECRET_ARN", discord_interactions.handler),
        ("github", "GITHUB_WEBHOOK_SECRET_ARN", github_webhook.handler),
        ("health", "RUNS_TABLE_NAME", health.handler),
    ],
)
def test_a_version_that_cannot_reach_what_it_needs_fails_its_check(
    plan: Plan,
    endpoints: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    setting: str,
    handler: Handler,
) -> None:
    monkeypatch.setenv("VERSION", "9f" * 32)
    monkeypatch.setenv(
        setting,
        "orchestra-runs-missing" if setting == "RUNS_TABLE_NAME" else "arn:aws:ssm:us-east-1:123456789012:parameter/x",
    )
    with pytest.raises(ProviderError, match="failed its pre-traffic check"):
        run_checks(plan, function, handler, endpoints)
