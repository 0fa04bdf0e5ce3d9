"""The tenants' rate limiters over successive deployments against the fake Cloudflare API: the
first deployment of the shared limiter, and of a new tenant's own limiter, settles the stack."""

import pulumi
import pytest

from components.cloudflare.worker import WorkerRolloutSettings
from systems.tenants.system import rate_limiter
from tests.components.cloudflare.blocks import account
from tests.components.cloudflare.deployments import Deployments
from tests.components.cloudflare.support import FakeCloudflare, Script


def limiters(*dedicated: str) -> None:
    cloudflare = account()
    rollout = WorkerRolloutSettings()
    rate_limiter(cloudflare, "rate-limiter", pulumi.ResourceOptions(), rollout=rollout, log_sampling_rate=1.0)
    for instance in dedicated:
        rate_limiter(
            cloudflare, f"rate-limiter-{instance}", pulumi.ResourceOptions(), rollout=rollout, log_sampling_rate=1.0
        )


def test_the_first_limiter_and_a_new_tenants_own_limiter_each_settle_in_one_deployment(
    cloudflare: FakeCloudflare, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployments = Deployments(cloudflare, monkeypatch)

    deployments.up(limiters)
    assert deployments.preview(limiters) == []
    deployments.up(lambda: limiters("acme"))
    assert deployments.steps == [
        ("create", "rate-limiter-acme-durable-object-migrations"),
        ("create", "rate-limiter-acme-version"),
    ]
    assert deployments.preview(lambda: limiters("acme")) == []

    (own,) = (name for name in cloudflare.scripts if "rate-limiter-acme" in name)
    assert cloudflare.scripts[own] == Script("v1", {"RateLimiter"}, uploads=1)
    assert [script.uploads for script in cloudflare.scripts.values()] == [1, 1]
