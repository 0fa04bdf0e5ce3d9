"""How the fleet grows with the number of tenants.

    .venv/bin/python -m benchmarks.fleet_scale [--repeat N] [--plan-repeat N]

For 1, 300 and 1,000 instance files in a temporary git repository, prints the median seconds
`--changed HEAD~1..HEAD` takes to select the affected tenants (git diff, reading and validating
every instance file) when the last commit changes one instance file, and when it changes a module
every tenant shares; then, in a copy of the project holding that many instance files, the offline
plan's wall time (median) and peak memory for the platform stack and for one tenant stack; then
the ratios between 1,000 files and 1 (the plans' target: at most 1.1).
"""

import argparse
import contextlib
import subprocess
import tempfile
from pathlib import Path

from benchmarks.fleet_plan import PlanCost, platform_plan_cost, project_with, tenant_plan_cost
from benchmarks.timing import seconds
from tools.fleet.selection import changed

SIZES = (1, 300, 1000)
INSTANCE = """\
instance_id: {id}
org_id: org-{id}
environment: prod
rate_limits:
  ideogram-v3: {{rpm: 60, tpm: 120000}}
api_keys: [primary, ci]
{wave}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs per selection measurement (median is shown)")
    parser.add_argument("--plan-repeat", type=int, default=3, help="runs per plan measurement (median is shown)")
    args = parser.parse_args()
    repeat = args.repeat
    figures: dict[int, tuple[float, float]] = {}
    for size in SIZES:
        with tempfile.TemporaryDirectory(prefix="fleet-scale-") as directory:
            root = Path(directory)
            _repository(root, size)
            with contextlib.chdir(root):
                one = _timed(root, repeat, root / "instances" / "tenant-0000.yaml", 1)
                shared = _timed(root, repeat, root / "systems" / "tenants" / "image_gen.js", size)
        figures[size] = (one, shared)
        print(f"{size:5d} instance files  one instance changed {one:7.3f} s  shared module changed {shared:7.3f} s")
    (one_small, shared_small), (one_large, shared_large) = figures[SIZES[0]], figures[SIZES[-1]]
    print(
        f"ratio {SIZES[-1]} / {SIZES[0]} files: one instance changed {one_large / one_small:.1f}x, "
        f"shared module changed {shared_large / shared_small:.1f}x"
    )
    plans: dict[int, tuple[PlanCost, PlanCost]] = {}
    for size in SIZES:
        with tempfile.TemporaryDirectory(prefix="fleet-plan-") as directory:
            project = project_with(Path(directory) / "orchestra", _instance_files(size))
            platform = platform_plan_cost(project, args.plan_repeat)
            tenant = tenant_plan_cost(project, "tenant-0000", args.plan_repeat)
        plans[size] = (platform, tenant)
        print(
            f"{size:5d} instance files  platform plan {platform.seconds:6.2f} s {platform.peak_mb:5.0f} MB  "
            f"one tenant's plan {tenant.seconds:6.2f} s {tenant.peak_mb:5.0f} MB"
        )
    (platform_small, tenant_small), (platform_large, tenant_large) = plans[SIZES[0]], plans[SIZES[-1]]
    print(
        f"ratio {SIZES[-1]} / {SIZES[0]} files: platform plan {platform_large.seconds / platform_small.seconds:.2f}x "
        f"time {platform_large.peak_mb / platform_small.peak_mb:.2f}x memory, one tenant's plan "
        f"{tenant_large.seconds / tenant_small.seconds:.2f}x time {tenant_large.peak_mb / tenant_small.peak_mb:.2f}x "
        "memory (target: at most 1.10)"
    )


def _instance_files(size: int) -> dict[str, str]:
    files = {}
    for index in range(size):
        name = f"tenant-{index:04d}"
        wave = "wave: canary\n" if index == 0 else f"wave: {index % 3 + 1}\n" if index % 2 else ""
        files[f"{name}.yaml"] = INSTANCE.format(id=name, wave=wave)
    return files


def _repository(root: Path, size: int) -> None:
    (root / "instances").mkdir()
    (root / "systems" / "tenants").mkdir(parents=True)
    for name, text in _instance_files(size).items():
        (root / "instances" / name).write_text(text)
    (root / "systems" / "tenants" / "image_gen.js").write_text("export default {};\n")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "tenants")


def _timed(root: Path, repeat: int, path: Path, expected: int) -> float:
    """Seconds to select what a commit changing `path` affects, checked to select `expected` tenants."""
    path.write_text(path.read_text() + "# changed\n")
    _git(root, "commit", "-qam", f"change {path.name}")
    selected = changed(Path("instances"), "prod", "HEAD~1..HEAD").tenants
    assert len(selected) == expected, (path, len(selected))
    return seconds(lambda: changed(Path("instances"), "prod", "HEAD~1..HEAD"), repeat)


def _git(root: Path, *args: str) -> None:
    identity = ["-c", "user.name=benchmark", "-c", "user.email=benchmark@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=root, check=True)  # noqa: S603, S607


if __name__ == "__main__":
    main()
