"""Workers Logs keeps the share of invocations the platform stack's `workerLogSamplingPercent`
says, for the platform's workers and, through its export, for every tenant stack's."""

from pathlib import Path

from systems.tenants.platform import WORKER_LOG_SAMPLING_PERCENT
from systems.tenants.platform_name import PLATFORM_PROJECT
from systems.tenants.tenant_config import API_TOKEN_VARIABLE
from tests.project_copy import copy_project
from tests.stacks import ROOT, TENANTS_DIR, setting
from tools.offline_plan import Plan, evaluate_project, referenced_stack

WORKER = "cloudflare:index/worker:Worker"


def sampling(plan: Plan) -> dict[str, tuple[bool, float]]:
    return {
        worker.name: (worker.inputs["observability"]["enabled"], worker.inputs["observability"]["headSamplingRate"])
        for worker in plan.of_type(WORKER)
    }


def test_the_shipped_stacks_keep_every_invocation() -> None:
    assert setting("dev", "workerLogSamplingPercent") == setting("prod", "workerLogSamplingPercent") == 100


def test_a_sampled_platform_samples_its_workers_and_its_tenants(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "orchestra")
    (project / "Pulumi.dev.yaml").write_text(
        (ROOT / "Pulumi.dev.yaml").read_text() + "  orchestra:workerLogSamplingPercent: 25\n"
    )
    platform = evaluate_project(project, "dev")
    assert sampling(platform) == {"ai-worker": (True, 0.25), "tenants-rate-limiter": (True, 0.25)}
    assert platform.outputs[WORKER_LOG_SAMPLING_PERCENT] == 25

    references = {f"organization/{PLATFORM_PROJECT}/dev": referenced_stack(platform)}
    tenant = evaluate_project(TENANTS_DIR, "acme-dev", references, secret_environment=[API_TOKEN_VARIABLE])
    assert sampling(tenant) and set(sampling(tenant).values()) == {(True, 0.25)}
