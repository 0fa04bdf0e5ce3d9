"""Every worker of every shipped stack, platform and tenant, is uploaded as a version and deployed by
its rollout with the platform stack's canary settings."""

from pathlib import Path

from tests.stacks import SHIPPED_TENANTS, setting
from tests.test_program import plan_variant
from tools.offline_plan import Plan
from tools.offline_plan.render import format_value, render_plan

WORKER = "cloudflare:index/worker:Worker"
VERSION = "cloudflare:index/workerVersion:WorkerVersion"
ROLLOUT = "pulumi-python:dynamic/cloudflare:WorkerRollout"
PENDING_MIGRATION = "a Durable Object migration is pending, which Cloudflare's gradual deployments do not allow"
# The workers whose Durable Object classes are created by their first deployment.
DURABLE_OBJECT_WORKERS = {
    "dev": {"tenants-rate-limiter"},
    "prod": {"tenants-rate-limiter"},
    "acme": {"tenants-rate-limiter-acme"},
}


def canary(stack: str) -> tuple[int, int]:
    percent, minutes = setting(stack, "workerCanaryPercent"), setting(stack, "workerCanaryMinutes")
    assert isinstance(percent, int) and isinstance(minutes, int)
    return percent, minutes


def test_the_stacks_set_their_worker_canary() -> None:
    assert canary("prod") == (10, 5)
    # Dev deploys each version at once.
    assert canary("dev") == (100, 5)


def assert_rolled_out(plan: Plan, platform_stack: str, expected_workers: int) -> None:
    percent, minutes = canary(platform_stack)
    workers = plan.of_type(WORKER)
    assert len(workers) == expected_workers
    for worker in workers:
        version = plan.one(VERSION, f"{worker.name}-version")
        assert (version.parent, version.inputs["deploy"]) == (worker.parent, False), worker.name
        assert version.inputs["workerId"] == f"{worker.name}-id"
        rollout = plan.one(ROLLOUT, f"{worker.name}-rollout").inputs
        assert rollout["script_name"] == worker.inputs["name"]
        assert rollout["version_id"] == f"{worker.name}-version-id"
        assert (rollout["canary_percentage"], rollout["bake_seconds"]) == (percent, minutes * 60), worker.name
        assert (rollout["max_error_rate"], rollout["min_requests"]) == (0.02, 20)


def test_every_platform_worker_rolls_out_with_the_stacks_canary(shipped_plan: Plan) -> None:
    # The AI worker and the tenants' shared rate limiter.
    assert_rolled_out(shipped_plan, shipped_plan.stack, expected_workers=2)


def test_every_tenant_worker_rolls_out_with_its_platforms_canary(shipped_tenant_plan: Plan) -> None:
    stack = shipped_tenant_plan.stack
    dedicated = DURABLE_OBJECT_WORKERS.get(stack, set())
    assert_rolled_out(shipped_tenant_plan, SHIPPED_TENANTS[stack], expected_workers=2 + len(dedicated))


def assert_at_once_only_with_a_pending_migration(plan: Plan) -> None:
    for worker in plan.of_type(WORKER):
        reason = plan.one(ROLLOUT, f"{worker.name}-rollout").inputs["all_at_once_reason"]
        # What `pulumi preview` prints for the worker.
        said = [message for message in plan.diagnostics if message.startswith(f"info: worker {worker.name}: ")]
        if worker.name in DURABLE_OBJECT_WORKERS.get(plan.stack, set()):
            assert reason == PENDING_MIGRATION
            assert said == [f"info: worker {worker.name}: the new version is deployed at once: {PENDING_MIGRATION}"]
        else:
            assert (reason, said) == ("", []), worker.name


def test_a_platform_worker_with_a_pending_migration_says_in_the_plan_it_deploys_at_once(shipped_plan: Plan) -> None:
    assert_at_once_only_with_a_pending_migration(shipped_plan)


def test_a_tenant_worker_with_a_pending_migration_says_in_the_plan_it_deploys_at_once(
    shipped_tenant_plan: Plan,
) -> None:
    assert_at_once_only_with_a_pending_migration(shipped_tenant_plan)


def test_the_rendered_plan_shows_each_workers_canary_and_why_one_deploys_at_once(shipped_plan: Plan) -> None:
    percent, minutes = canary(shipped_plan.stack)
    rendered = render_plan(shipped_plan)
    rollout = "(pulumi-python:dynamic/cloudflare:WorkerRollout)"
    assert f"ai-worker-rollout {rollout} canary_percentage={percent} bake_seconds={minutes * 60}\n" in rendered
    assert (
        f"tenants-rate-limiter-rollout {rollout} canary_percentage={percent} bake_seconds={minutes * 60} "
        f"all_at_once_reason={format_value(PENDING_MIGRATION)}\n"
    ) in rendered


def test_a_bad_worker_canary_stops_the_plan_with_one_line(tmp_path: Path) -> None:
    result = plan_variant(tmp_path, "dev", "  orchestra:workerCanaryPercent: 0\n")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "invalid stack configuration: orchestra:workerCanaryPercent: "
        "Input should be greater than or equal to 1 (got '0')\n"
    )
