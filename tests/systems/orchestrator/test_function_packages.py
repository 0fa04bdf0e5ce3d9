"""Each orchestrator function ships the libraries its handler imports, and what those need: nothing more."""

import ast
import importlib.metadata
import re
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.offline_plan import Plan

from .test_system import plan_orchestrator

HANDLERS = Path(__file__).resolve().parents[3] / "systems" / "orchestrator" / "handlers"
# The Lambda Python runtime comes with the AWS SDK.
RUNTIME_PROVIDED = {"boto3", "botocore"}
FUNCTIONS = ("discord", "github", "worker", "health")
# What a library loads only for a feature, named by the extra the requirements ask for: the
# worker's RS256 GitHub App tokens are PyJWT's `crypto` extra (cryptography).
EXTRAS_USED = {"pyjwt": ("crypto",)}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_orchestrator("dev")


def imported_modules(module: str, seen: set[str] | None = None) -> set[str]:
    """Top-level names of every module outside the handler package that `module` may import, lazily too."""
    seen = seen if seen is not None else set()
    if module in seen:
        return set()
    seen.add(module)
    relative = module.removeprefix("handlers").lstrip(".").replace(".", "/")
    path = HANDLERS / f"{relative}.py" if relative else HANDLERS / "__init__.py"
    outside: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.ImportFrom):
            base = f"handlers.{node.module}" if node.module else "handlers"
            targets = [base] if node.module else [f"handlers.{alias.name}" for alias in node.names]
            for target in targets:
                outside |= imported_modules(target, seen)
            continue
        else:
            continue
        for name in names:
            top = name.split(".", 1)[0]
            if top == "handlers":
                outside |= imported_modules(name, seen)
            elif top not in sys.stdlib_module_names and top != "__future__":
                outside.add(top)
    return outside


def needed_distributions(modules: set[str]) -> set[str]:
    """The distributions providing `modules`, with everything they require, as installed here."""
    providers = importlib.metadata.packages_distributions()
    pending = [name for module in modules for name in providers[module]]
    needed: set[str] = set()
    while pending:
        name = canonicalize_name(pending.pop())
        if name in needed:
            continue
        needed.add(name)
        environments = [{"extra": extra} for extra in ("", *EXTRAS_USED.get(name, ()))]
        for requirement in map(Requirement, importlib.metadata.requires(name) or []):
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
                pending.append(requirement.name)
    return needed


def shipped_distributions(package: Path) -> set[str]:
    with zipfile.ZipFile(package) as archive:
        return {
            canonicalize_name(HeaderParser().parsestr(archive.read(name).decode())["Name"])
            for name in archive.namelist()
            if re.fullmatch(r"[^/]+\.dist-info/METADATA", name)
        }


def package_of(plan: Plan, function: str) -> Path:
    code = plan.one("aws:lambda/function:Function", f"orchestrator-{function}").inputs["code"]
    match = re.fullmatch(r"FileArchive\((.+)\)", code)
    assert match, code
    return Path(match[1])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_ships_exactly_what_its_handler_imports(plan: Plan, function: str) -> None:
    handler = plan.one("aws:lambda/function:Function", f"orchestrator-{function}").inputs["handler"]
    module = handler.rsplit(".", 1)[0]
    imports = imported_modules(module) - RUNTIME_PROVIDED

    assert shipped_distributions(package_of(plan, function)) == needed_distributions(imports)


def test_only_the_worker_carries_the_github_app_token_libraries(plan: Plan) -> None:
    carriers = {f for f in FUNCTIONS if {"pyjwt", "cryptography"} & shipped_distributions(package_of(plan, f))}
    assert carriers == {"worker"}
    # Every function carries the error tracker; the Discord endpoint adds only its signature checks.
    error_tracker = {"sentry-sdk", "urllib3", "certifi"}
    assert shipped_distributions(package_of(plan, "discord")) == {"pynacl", "cffi", "pycparser"} | error_tracker
    assert shipped_distributions(package_of(plan, "github")) == error_tracker
