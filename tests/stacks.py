"""The project's stacks as its data declares them, for tests that run over every stack."""

import json
from pathlib import Path

from stack_config.stacks import stack_names
from tools.offline_plan import compose_config, load_project

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_STACKS = stack_names(ROOT)
"""Every stack the repository ships: one per `Pulumi.<stack>.yaml`."""


def setting(stack: str, key: str, project_dir: Path = ROOT) -> object:
    """`orchestra:<key>` as the CLI composes it for `stack` (its file over `Pulumi.yaml`), decoded."""
    value = compose_config(load_project(project_dir), project_dir, stack).values[f"orchestra:{key}"]
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def is_guarded(stack: str, project_dir: Path = ROOT) -> bool:
    guarded = setting(stack, "guardedStacks", project_dir)
    assert isinstance(guarded, list)
    return stack in guarded
