"""The worker rollout against a fake of Cloudflare's deployments, analytics and the worker itself,
driven through the real dynamic-provider host as `pulumi up` and `pulumi refresh` drive it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from components.providers.provider import ProviderError
from components.providers.worker_rollout import WorkerRolloutProvider
from tests.components.cloudflare.support import ACCOUNT_ID, SETTING, TOKEN
from tests.components.dynamic_provider_support import PROJECT, hosted, serving
from tests.components.providers.fake_worker_traffic import FakeWorkerTraffic

SCRIPT = "orchestra-ai-worker-prod"
OLD = "0a1b2c3d-0000-4000-8000-000000000001"
NEW = "0a1b2c3d-0000-4000-8000-000000000002"
URN = f"urn:pulumi:prod::{PROJECT}::pulumi-nodejs:dynamic:Resource::ai-worker-rollout"


@pytest.fixture
def traffic() -> Iterator[FakeWorkerTraffic]:
    fake = FakeWorkerTraffic(requests_per_second=200)
    fake.upload(SCRIPT, OLD)
    fake.deploy_now(SCRIPT, [{"version_id": OLD, "percentage": 100}])
    with serving(fake.server):
        yield fake


def inputs(fake: FakeWorkerTraffic, version_id: str = NEW, **overrides: Any) -> dict[str, Any]:
    return {
        "api_base": f"{fake.base_url}/client/v4",
        "account_id": ACCOUNT_ID,
        "script_name": SCRIPT,
        "credential_setting": SETTING,
        "version_id": version_id,
        "health_url": f"{fake.base_url}/workers/{SCRIPT}/healthz",
        "all_at_once_reason": "",
        "canary_percentage": 10,
        "bake_seconds": 2,
        "poll_seconds": 0.25,
        "max_error_rate": 0.01,
        "min_requests": 5,
        "versions": None,
        **overrides,
    }


def provider() -> WorkerRolloutProvider:
    configured = WorkerRolloutProvider()
    configured.configure(ConfigureRequest(Config(raw_config={SETTING: TOKEN}, project_name=PROJECT)))
    return configured


def deployed(fake: FakeWorkerTraffic) -> list[list[tuple[str, int]]]:
    return [
        [(entry["version_id"], int(entry["percentage"])) for entry in body["versions"]]
        for body in fake.deployment_bodies()
    ]


def test_a_healthy_canary_takes_its_share_passes_the_gate_and_takes_all_traffic(
    traffic: FakeWorkerTraffic, monkeypatch: pytest.MonkeyPatch
) -> None:
    traffic.upload(SCRIPT, NEW, wall_time_ms=37.0)
    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", said.append)
    rollout = provider()
    state = {**inputs(traffic, version_id=OLD), "versions": [{"version_id": OLD, "percentage": 100}]}

    assert rollout.diff(SCRIPT, state, inputs(traffic)).changes
    result = rollout.update(SCRIPT, state, inputs(traffic))

    assert deployed(traffic) == [[(NEW, 10), (OLD, 90)], [(NEW, 100)]]
    health = [request for request in traffic.requests if request.path.endswith("/healthz")]
    assert [request.headers["cloudflare-workers-version-overrides"] for request in health] == [f'{SCRIPT}="{NEW}"']
    queries = [request.json() for request in traffic.requests if request.path == "/client/v4/graphql"]
    assert len(queries) >= 2
    assert {query["variables"]["scriptName"] for query in queries} == {SCRIPT}
    assert {request.headers["authorization"] for request in traffic.requests if "healthz" not in request.path} == {
        f"Bearer {TOKEN}"
    }
    assert traffic.live(SCRIPT) == [{"version_id": NEW, "percentage": 100}]
    assert result.outs["versions"] == [{"version_id": NEW, "percentage": 100}]
    assert not rollout.diff(SCRIPT, result.outs, inputs(traffic)).changes
    # What the version served while the gate watched, said in `pulumi up`'s output for the summary.
    [promoted] = said
    assert re.fullmatch(
        rf"worker {SCRIPT}: version {NEW} promoted after 10% for 2 s: "
        r"\d+ requests, 0 errors \(0\.0%\), p99 wall time 37 ms",
        promoted,
    )


def test_a_failing_canary_is_rolled_back_within_the_window_and_names_the_figure(traffic: FakeWorkerTraffic) -> None:
    traffic.upload(SCRIPT, NEW, error_rate=0.5)
    state = {**inputs(traffic, version_id=OLD), "versions": [{"version_id": OLD, "percentage": 100}]}

    with pytest.raises(ProviderError, match=r"rolled back to .*: \d+ errors in \d+ requests \(\d+\.\d%\)") as failed:
        provider().update(SCRIPT, state, inputs(traffic, bake_seconds=30))

    assert deployed(traffic) == [[(NEW, 10), (OLD, 90)], [(OLD, 100)]]
    assert traffic.live(SCRIPT) == [{"version_id": OLD, "percentage": 100}]
    assert "above the 1.0% allowed; p99 wall time 12 ms" in str(failed.value)
    canary, rollback = traffic.scripts[SCRIPT].history[1:]
    assert (rollback.at - canary.at).total_seconds() < 5, "rolled back at the first look, not after 30 s"
    served = traffic.served(SCRIPT, traffic.scripts[SCRIPT].history[0].at, rollback.at)
    assert served[NEW][0] <= 0.1 * (served[NEW][0] + served[OLD][0]) + 1


def test_an_unhealthy_version_is_rolled_back_before_its_traffic_is_judged(traffic: FakeWorkerTraffic) -> None:
    traffic.upload(SCRIPT, NEW, healthy=False)
    state = {**inputs(traffic, version_id=OLD), "versions": [{"version_id": OLD, "percentage": 100}]}

    with pytest.raises(ProviderError, match=r"/healthz of the new version failed 3 times: HTTP 503"):
        provider().update(SCRIPT, state, inputs(traffic))

    assert deployed(traffic) == [[(NEW, 10), (OLD, 90)], [(OLD, 100)]]
    assert not [request for request in traffic.requests if request.path == "/client/v4/graphql"]


def test_a_pending_migration_deploys_at_once_and_says_why(traffic: FakeWorkerTraffic) -> None:
    traffic.upload(SCRIPT, NEW)
    state = {**inputs(traffic, version_id=OLD), "versions": [{"version_id": OLD, "percentage": 100}]}
    news = inputs(traffic, all_at_once_reason="Durable Object migration v2 is pending")

    provider().update(SCRIPT, state, news)

    bodies = traffic.deployment_bodies()
    assert deployed(traffic) == [[(NEW, 100)]]
    assert bodies[0]["annotations"]["workers/message"] == "all at once: Durable Object migration v2 is pending"


def test_the_first_version_of_a_worker_is_deployed_at_once(traffic: FakeWorkerTraffic) -> None:
    traffic.upload("orchestra-new-worker-prod", NEW)
    created = provider().create(inputs(traffic, script_name="orchestra-new-worker-prod"))

    assert created.outs["versions"] == [{"version_id": NEW, "percentage": 100}]
    assert deployed(traffic) == [[(NEW, 100)]]


def test_a_refused_deployment_fails_the_update_with_cloudflare_s_words(traffic: FakeWorkerTraffic) -> None:
    state = {**inputs(traffic, version_id=OLD), "versions": [{"version_id": OLD, "percentage": 100}]}

    with pytest.raises(ProviderError, match=r"\[10023\] No such version"):
        provider().update(SCRIPT, state, inputs(traffic, version_id="0a1b2c3d-0000-4000-8000-00000000dead"))

    assert traffic.live(SCRIPT) == [{"version_id": OLD, "percentage": 100}]


def test_a_deployment_changed_by_hand_shows_after_refresh_and_the_next_up_converges(
    traffic: FakeWorkerTraffic,
) -> None:
    """Through the real host: the refresh reads the rollback done by hand, the diff then wants the
    program's version back, and the update deploys it once more."""
    traffic.upload(SCRIPT, NEW)
    with hosted(WorkerRolloutProvider(), URN, {SETTING: TOKEN}) as host:
        news = host.check({}, inputs(traffic))
        _, state = host.create(news)
        assert traffic.live(SCRIPT) == [{"version_id": NEW, "percentage": 100}]
        traffic.deploy_now(SCRIPT, [{"version_id": OLD, "percentage": 100}])

        refreshed = host.read(SCRIPT, state)
        assert refreshed["versions"] == [{"version_id": OLD, "percentage": 100}]
        assert host.diff(SCRIPT, refreshed, news).changes == 2  # DIFF_SOME
        updated = host.update(SCRIPT, refreshed, news)

    assert updated["versions"] == [{"version_id": NEW, "percentage": 100}]
    assert traffic.live(SCRIPT) == [{"version_id": NEW, "percentage": 100}]


def test_settings_out_of_range_are_refused_at_preview(traffic: FakeWorkerTraffic) -> None:
    checked = provider().check({}, inputs(traffic, canary_percentage=0, max_error_rate=2))

    assert {failure.property for failure in checked.failures} == {"canary_percentage", "max_error_rate"}
