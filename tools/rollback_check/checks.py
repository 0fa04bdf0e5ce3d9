"""The reasons a commit cannot be rolled back to; each is one line.

- Today's pipeline (pulumi-up.yml) plans and applies the target with the target's own setup
  action, policy pack, smoke check and Pulumi CLI pin, so a target that lacks one of them, pins
  a CLI without `--run-program`, or installs from a requirements file that is not a lock with
  hashes (its packages would resolve fresh, with the stack's credentials), is refused before
  anything runs.
- Durable Object classes only move forward: once a migration has created a class, Cloudflare
  refuses an upload of a script that no longer exports it (code 10064). Every migration step the
  default branch declares is, or will be at its next deploy, applied; a target that lacks one is
  refused.
"""

import ast
import re
from collections.abc import Mapping

from .git_tree import GitTree

PIPELINE_FILES = (
    ".github/actions/setup-pulumi/action.yml",
    "policy/PulumiPolicy.yaml",
    "tools/smoke/__main__.py",
    "requirements.txt",
)
"""What pulumi-up.yml uses from the checked-out commit."""
PULUMI_CLI_WITH_RUN_PROGRAM = (3, 169, 0)
"""`--run-program`, which every refresh of the pipeline passes, came with Pulumi CLI 3.169.0."""
MIGRATION_CLASS = "DurableObjectMigration"
DECLARING_DIRECTORY = "systems"
# A lock's pin: `pulumi==X.Y.Z \` with its `--hash=sha256:` lines after it.
_PIN = re.compile(r"^pulumi==(\d+)\.(\d+)\.(\d+) \\\n\s+--hash=sha256:", re.MULTILINE)


def pipeline_problems(target: GitTree) -> list[str]:
    missing = [path for path in PIPELINE_FILES if path not in target.paths]
    if missing:
        return [f"it lacks {', '.join(missing)}, which today's pipeline runs from the deployed commit"]
    pin = _PIN.search(target.read("requirements.txt"))
    if pin is None or tuple(map(int, pin.groups())) < PULUMI_CLI_WITH_RUN_PROGRAM:
        shown = ".".join(map(str, PULUMI_CLI_WITH_RUN_PROGRAM))
        return [
            f"its requirements.txt locks no Pulumi CLI of {shown} or later by hash, which --run-program and "
            "a hash-checked install need"
        ]
    return []


def declared_migrations(sources: Mapping[str, str]) -> dict[str, str]:
    """Every Durable Object migration step the systems declare: its source text (what identifies a
    step: tag and classes) → where, e.g. `v2 (systems/tenants/system.py:31)`. The one place that
    knows how steps are declared: `DurableObjectMigration(<tag>, ...)` calls, wherever the class lives."""
    steps: dict[str, str] = {}
    for path, source in sources.items():
        for node in ast.walk(ast.parse(source, filename=path)):
            if isinstance(node, ast.Call) and _called_name(node.func) == MIGRATION_CLASS:
                steps[ast.unparse(node)] = f"{_tag(node)} ({path}:{node.lineno})"
    return steps


def migration_problems(target: GitTree, reference: GitTree) -> list[str]:
    declared = declared_migrations(reference.python_sources(DECLARING_DIRECTORY))
    lacking = declared.keys() - declared_migrations(target.python_sources(DECLARING_DIRECTORY)).keys()
    if not lacking:
        return []
    steps = ", ".join(sorted(declared[step] for step in lacking))
    return [
        f"it predates the Durable Object migration {steps} of {reference.commit}; Cloudflare refuses a script "
        "without a class a migration created (code 10064): roll forward instead"
    ]


def _called_name(function: ast.expr) -> str | None:
    if isinstance(function, ast.Name):
        return function.id
    return function.attr if isinstance(function, ast.Attribute) else None


def _tag(call: ast.Call) -> str:
    tag = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "tag"), None)
    return str(tag.value) if isinstance(tag, ast.Constant) else ast.unparse(tag) if tag is not None else "?"
