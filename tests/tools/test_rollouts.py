"""What the rollouts did, read back from `pulumi up`'s output: the failure the real dynamic-provider
host reports for a canary its gate refused, laid out as the CLI prints it, and the promotions the
providers say on their info channel, a worker's and a Lambda's."""

import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import grpc
import pulumi
import pytest

from components.providers.provider import ProviderError
from components.providers.worker_rollout import WorkerRolloutProvider
from tests.components.cloudflare.support import SETTING, TOKEN
from tests.components.dynamic_provider_support import hosted
from tests.components.providers.fake_worker_traffic import FakeWorkerTraffic
from tests.components.providers.lambda_world import ALIAS, FUNCTION, LambdaWorld
from tests.components.providers.test_lambda_rollout import deployed, props, said, world
from tests.components.providers.test_lambda_rollout import provider as lambda_provider
from tests.components.providers.test_worker_rollout import NEW, OLD, SCRIPT, URN, inputs, traffic
from tests.components.providers.test_worker_rollout import provider as provider_for_tests
from tools.rollouts import MAX_LINE, automatic_rollbacks, promotions

__all__ = ["said", "traffic", "world"]  # the fixtures, used by name below

ROOT = Path(__file__).resolve().parents[2]


def as_the_cli_prints(urn_name: str, details: str) -> str:
    """The error once as the update fails and once more under Diagnostics, as `pulumi up` shows it."""
    first, *rest = details.splitlines()
    error = textwrap.indent("\n".join([f"error: {first}", *rest]), "    ")
    return (
        f" ~  pulumi-nodejs:dynamic:Resource {urn_name} updating (3s) [diff: ~version_id]\n"
        f" ~  pulumi-nodejs:dynamic:Resource {urn_name} **updating failed** error: {first}\n"
        f"Diagnostics:\n  pulumi-nodejs:dynamic:Resource ({urn_name}):\n{error}\n"
        "Resources:\n    ~ 1 to update\n    41 unchanged\n"
    )


def test_a_refused_canary_is_reported_once_with_its_figure(traffic: FakeWorkerTraffic) -> None:
    traffic.upload(SCRIPT, NEW, error_rate=0.5)
    state = {**inputs(traffic, version_id=OLD), "versions": [{"version_id": OLD, "percentage": 100}]}
    with hosted(WorkerRolloutProvider(), URN, {SETTING: TOKEN}) as host, pytest.raises(grpc.RpcError) as failed:
        host.update(SCRIPT, state, host.check(state, inputs(traffic, bake_seconds=30)))
    details = failed.value.details()
    assert details is not None and "Traceback" in details

    [rollback] = automatic_rollbacks(as_the_cli_prints("ai-worker-rollout", details))
    assert rollback.startswith(f"worker {SCRIPT}: version {NEW} rolled back to {OLD}, all traffic: ")
    assert "errors in" in rollback and "above the 1.0% allowed" in rollback


def traceback_of(error: Exception) -> str:
    try:
        raise error
    except Exception:
        return traceback.format_exc()


def test_each_rollback_of_a_deploy_is_listed_in_order_and_nothing_else() -> None:
    lambda_rollback = ProviderError(
        "orchestra-orchestrator-discord-prod version 8 rolled back to 7 at 10% of traffic: "
        "3 ERROR records in /aws/lambda/orchestra-orchestrator-discord-prod from version 8"
    )
    refused = ProviderError("Cloudflare refused the deployment (HTTP 400): Percentages must sum to 100")
    log = "\n".join(
        as_the_cli_prints(name, traceback_of(error))
        for name, error in (("orchestrator-discord-live", lambda_rollback), ("ai-worker-rollout", refused))
    )
    assert automatic_rollbacks(log) == [str(lambda_rollback)]
    assert automatic_rollbacks("Resources:\n    42 unchanged\n") == []


def test_a_long_message_is_cut() -> None:
    log = traceback_of(ProviderError("worker w: version v rolled back to u, all traffic: " + "x" * 2000))
    [rollback] = automatic_rollbacks(log)
    assert len(rollback) == MAX_LINE


def test_the_command_prints_them_and_refuses_a_missing_log(tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    log.write_text(traceback_of(ProviderError("f version 2 rolled back to 1 at 10% of traffic: f-gate-errors")))
    run = [sys.executable, "-m", "tools.rollouts", "rollbacks"]
    printed = subprocess.run([*run, str(log)], cwd=ROOT, capture_output=True, text=True, check=True)
    assert printed.stdout == "f version 2 rolled back to 1 at 10% of traffic: f-gate-errors\n"
    missing = subprocess.run([*run, str(tmp_path / "none.log")], cwd=ROOT, capture_output=True, text=True)
    assert (missing.returncode, missing.stdout) == (2, "")
    assert "cannot be read" in missing.stderr


def test_a_promoted_canary_is_listed_with_what_it_served(
    traffic: FakeWorkerTraffic, monkeypatch: pytest.MonkeyPatch
) -> None:
    traffic.upload(SCRIPT, NEW, wall_time_ms=21.0)
    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", said.append)
    state = {**inputs(traffic, version_id=OLD), "versions": [{"version_id": OLD, "percentage": 100}]}
    provider_for_tests().update(SCRIPT, state, inputs(traffic))
    # As the CLI shows an info line of the provider: during the update, and again under Diagnostics.
    [line] = said
    log = f"    pulumi-python:dynamic/cloudflare:WorkerRollout (ai-worker-rollout):\n      info: {line}\n" * 2

    [promoted] = promotions(log)
    assert promoted.startswith(f"worker {SCRIPT}: version {NEW} promoted after 10% for 2 s: ")
    assert promoted.endswith(", 0 errors (0.0%), p99 wall time 21 ms")
    assert automatic_rollbacks(log) == []


def test_a_lambda_promotion_is_listed_with_each_step_s_figures(world: LambdaWorld, said: list[str]) -> None:
    _, state = deployed(world)
    v2 = world.publish("2")
    lambda_provider(world).update(f"{FUNCTION}:{ALIAS}", state, props(v2, world.watch(v2)))
    [line] = said
    log = f"    pulumi-python:dynamic/aws:LambdaRollout (orchestrator-discord-live):\n      info: {line}\n" * 2

    assert promotions(log) == [
        f"function {FUNCTION}: version {v2} promoted after 10% for 300 s: 48 requests, 0 errors (0.0%), "
        "p99 duration 20 ms (as CloudWatch had them at the promotion)"
    ]
    assert automatic_rollbacks(log) == []


def test_a_lambda_rollback_is_listed_with_what_the_version_served(world: LambdaWorld) -> None:
    v1, state = deployed(world)
    v2 = world.publish("2")
    world.failing.add(v2)
    with pytest.raises(ProviderError) as failed:
        lambda_provider(world).update(f"{FUNCTION}:{ALIAS}", state, {**props(v2, world.watch(v2)), "error_log": None})

    [rollback] = automatic_rollbacks(as_the_cli_prints("orchestrator-discord-live", traceback_of(failed.value)))
    assert rollback.startswith(f"{FUNCTION} version {v2} rolled back to {v1} at 10% of traffic: discord-gate-errors-")
    assert rollback.endswith(
        "; what it served in that step: 12 requests, 12 errors (100.0%), p99 duration 20 ms "
        "(as CloudWatch had them at the rollback)"
    )
    assert promotions(rollback) == []
