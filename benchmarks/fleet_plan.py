"""The offline plan of the platform stack and of one tenant stack, in a copy of the project holding
a given number of instance files: wall time and peak memory of `python -m tools.offline_plan`,
each run in a process of its own, as CI runs it."""

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_STACK = "prod"
_NOT_COPIED = (".git", ".venv", "node_modules", "build", "__pycache__", ".pytest_cache", ".ruff_cache")
# The shipped delivery file fills a secret with a shipped tenant's key; the copy's first tenant has it.
_DELIVERED_KEY = re.compile(r"tenant-api-key/[a-z0-9-]+/ci")


@dataclass(frozen=True)
class PlanCost:
    seconds: float
    peak_mb: float


def project_with(destination: Path, instance_files: dict[str, str]) -> Path:
    """A copy of the project whose `instances/` holds exactly `instance_files` (name to text)."""
    shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(*_NOT_COPIED))
    (destination / "node_modules").symlink_to((ROOT / "node_modules").resolve(), target_is_directory=True)
    instances = destination / "instances"
    shutil.rmtree(instances)
    instances.mkdir()
    for name, text in instance_files.items():
        (instances / name).write_text(text)
    delivery = destination / "delivery.yaml"
    first = min(instance_files).removesuffix(".yaml")
    delivery.write_text(_DELIVERED_KEY.sub(f"tenant-api-key/{first}/ci", delivery.read_text()))
    return destination


def platform_plan_cost(project: Path, repeat: int) -> PlanCost:
    """The platform stack's plan; its JSON is left in `build/` for the tenant stacks' plans."""
    saved = project / "build" / f"plan-{PLATFORM_STACK}.json"
    return _cost(project, ["--stack", PLATFORM_STACK, "--json", str(saved)], repeat)


def tenant_plan_cost(project: Path, tenant: str, repeat: int) -> PlanCost:
    reference = f"organization/orchestra/{PLATFORM_STACK}={project / 'build' / f'plan-{PLATFORM_STACK}.json'}"
    flags = ["--project-dir", "tenants", "--stack", tenant, "--reference", reference]
    return _cost(project, [*flags, "--secret-env", "CLOUDFLARE_API_TOKEN"], repeat)


def _cost(project: Path, arguments: list[str], repeat: int) -> PlanCost:
    runs = [_run(project, arguments) for _ in range(repeat)]
    return PlanCost(statistics.median(run.seconds for run in runs), max(run.peak_mb for run in runs))


def _run(project: Path, arguments: list[str]) -> PlanCost:
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "tools.offline_plan", *arguments],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    # The child's own resource usage (Linux reports ru_maxrss in KiB), not the largest of all children.
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"offline plan {' '.join(arguments)} failed: {errors.decode()[-500:]}")
    return PlanCost(elapsed, usage.ru_maxrss / 1024)
