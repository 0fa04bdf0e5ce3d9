"""What the offline plan of dev costs against what the SDKs alone cost, and what each Lambda package weighs.

    .venv/bin/python -m benchmarks.plan_speed [--repeat N]

All in one run, in CPU seconds (what a step costs, however busy the machine's cores are; the plan's
wall-clock time is shown too), the least of several runs:
- fresh interpreters importing what the program needs of the SDKs, and fresh interpreters running
  `make plan`'s command (the offline plan of dev, its policies and its JSON; a first, untimed run
  fills the package and bundle caches, as any earlier preview has): their ratio, at most 1.3.
  The SDKs load most resource modules on first use (`pulumi_aws.lambda_` when a function is
  declared), so a bare `import pulumi_aws` leaves out SDK code every plan runs; the baseline loads
  the five SDKs and each SDK package the program loaded, as the plan must. The plan's command skips
  the collection the interpreter runs at exit over everything the SDKs made; the same import with
  that collection skipped is shown too, with its ratio, so what that saving is worth stays visible;
- in this process, everything imported: the program's evaluation against the mocks evaluating as
  many plain resources, the difference per resource at most 2 ms;
- each function's package: its size and what it ships.

Exits 1 when a figure is over its target.
"""

import argparse
import importlib
import re
import subprocess
import sys
import tempfile
import zipfile

import pulumi_aws as aws

from benchmarks.timing import ROOT, cpu_seconds, seconds
from tools.offline_plan import Plan, evaluate, evaluate_project

SDKS = ("pulumi", "pulumi_aws", "pulumi_cloudflare", "pulumi_github", "pulumi_random")
MAX_RATIO = 1.3
MAX_MS_PER_RESOURCE = 2.0


def run(command: list[str]) -> None:
    # No shell, and every argument is ours: this interpreter with fixed arguments.
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # noqa: S603


def sdk_modules_loaded(loaded: set[str]) -> list[str]:
    """The five SDKs and the SDK packages (`pulumi_aws.iam`) among the modules the program loaded."""
    packages = {".".join(name.split(".")[:2]) for name in loaded if name.split(".")[0] in SDKS}
    return [*SDKS, *sorted(packages - set(SDKS))]


def sdk_import_code(modules: list[str], then: str = "") -> str:
    # An SDK package is a lazy module until an attribute is read: reading one loads it, as the
    # program's first use does.
    load = f"for name in {modules!r}:\n    getattr(importlib.import_module(name), '__all__', None)"
    return f"import importlib\n{load}\n{then}"


def plain_resources(count: int) -> Plan:
    """The mocks' own cost: a program of `count` queues with nothing but a name."""

    def program() -> None:
        for index in range(count):
            aws.sqs.Queue(f"queue-{index}", name=f"queue-{index}")

    return evaluate(program)


def package_rows(plan: Plan) -> list[str]:
    rows = []
    for function in plan.of_type("aws:lambda/function:Function"):
        match = re.fullmatch(r"FileArchive\((.+)\)", function.inputs["code"])
        assert match, function.inputs["code"]
        path = ROOT / match[1]
        with zipfile.ZipFile(path) as archive:
            tops = {name.split("/", 1)[0] for name in archive.namelist() if "/" in name}
        shipped = sorted(top for top in tops if not top.endswith(".dist-info"))
        rows.append(f"package {function.name:<28} {path.stat().st_size / 1024:8.0f} KiB  {' '.join(shipped)}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (the least is shown)")
    repeat = parser.parse_args().repeat

    # What importing the SDKs loads by itself is not counted twice: only what the program loads after.
    for sdk in SDKS:
        importlib.import_module(sdk)
    loaded_before = set(sys.modules)
    plan = evaluate_project(ROOT, "dev")
    sdk_modules = sdk_modules_loaded(set(sys.modules) - loaded_before)
    with tempfile.TemporaryDirectory() as scratch:
        plan_command = [sys.executable, "-m", "tools.offline_plan", "--stack", "dev", "--json", f"{scratch}/plan.json"]
        run(plan_command)
        sdk_import = cpu_seconds(lambda: run([sys.executable, "-c", sdk_import_code(sdk_modules)]), repeat)
        sdk_frozen = cpu_seconds(
            lambda: run([sys.executable, "-c", sdk_import_code(sdk_modules, "import gc\ngc.freeze()")]), repeat
        )
        offline_plan = cpu_seconds(lambda: run(plan_command), repeat)
        plan_wall = seconds(lambda: run(plan_command), 1)
    ratio = offline_plan / sdk_import

    program = cpu_seconds(lambda: evaluate_project(ROOT, "dev"), repeat)
    mocks = cpu_seconds(lambda: plain_resources(len(plan.resources)), repeat)
    per_resource_ms = (program - mocks) / len(plan.resources) * 1000

    rows = [
        (f"import of the SDKs ({len(sdk_modules)} packages), fresh interpreter", f"{sdk_import:7.3f} s", ""),
        ("the same, its exit collection skipped", f"{sdk_frozen:7.3f} s", ""),
        ("offline plan of dev (make plan), fresh interpreter", f"{offline_plan:7.3f} s", f"{ratio:4.2f}x"),
        ("  against the import with its exit collection skipped", "", f"{offline_plan / sdk_frozen:4.2f}x"),
        (f"evaluation of dev ({len(plan.resources)} resources), in process", f"{program:7.3f} s", ""),
        ("mocks alone, as many plain resources", f"{mocks:7.3f} s", ""),
        ("the program above the mocks, per resource", f"{per_resource_ms:7.2f} ms", ""),
    ]
    print("CPU time (this process and its children), least of the runs:")
    for label, value, ratio_text in rows:
        print(f"{label:<52} {value}  {ratio_text}".rstrip())
    print(f"make plan of dev took {plan_wall:.3f} s of wall-clock time")
    print(f"targets: plan/import <= {MAX_RATIO}x, program above the mocks <= {MAX_MS_PER_RESOURCE} ms per resource")
    for row in package_rows(plan):
        print(row)
    if ratio > MAX_RATIO or per_resource_ms > MAX_MS_PER_RESOURCE:
        print("over target", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
