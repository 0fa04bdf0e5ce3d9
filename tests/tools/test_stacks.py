"""`python -m tools.stacks`: the stacks the workflows deploy, read from delivery.yaml and the stack files."""

import json
from pathlib import Path

import pytest

from tools.stacks.cli import main


def project(tmp_path: Path, delivery: str, stack_files: tuple[str, ...] = ("dev", "prod")) -> Path:
    (tmp_path / "delivery.yaml").write_text(delivery)
    for stack in stack_files:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    return tmp_path


def run(root: Path, *args: str) -> int:
    return main(["--project", str(root), *args])


SHIPPED = """stacks:
  dev: {}
  prod: {}
"""


def test_the_matrix_lists_each_stack_in_order_with_its_environments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project(tmp_path, SHIPPED), "matrix") == 0
    assert json.loads(capsys.readouterr().out) == [
        {"stack": "dev", "plan-environment": "dev-plan", "deploy-environment": "dev"},
        {"stack": "prod", "plan-environment": "prod-plan", "deploy-environment": "prod"},
    ]


def test_a_stacks_environments_are_stack_and_stack_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, "stacks:\n  dev: {}\n  staging: {state_bucket: b}\n", ("dev", "staging"))
    assert run(root, "show", "staging") == 0
    assert json.loads(capsys.readouterr().out) == {
        "stack": "staging",
        "plan-environment": "staging-plan",
        "deploy-environment": "staging",
    }
    assert run(root, "names") == 0
    assert capsys.readouterr().out == "dev staging\n"


@pytest.mark.parametrize(
    ("delivery", "stack_files", "message"),
    [
        (SHIPPED, ("dev",), "stacks: prod has no Pulumi.prod.yaml, so it has no configuration"),
        ("stacks: {}\n", (), "`stacks:` must map each deployed stack's name to its settings"),
        ("owner: x\n", (), "`stacks:` must map each deployed stack's name to its settings"),
        ("stacks:\n  'a b': {}\n", (), "stacks: 'a b' is not a stack name"),
        ("stacks: [\n", (), "not YAML"),
    ],
)
def test_bad_stack_data_stops_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], delivery: str, stack_files: tuple[str, ...], message: str
) -> None:
    assert run(project(tmp_path, delivery, stack_files), "matrix") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"stacks: {tmp_path / 'delivery.yaml'}: {message}")


def test_a_stack_that_is_not_deployed_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(project(tmp_path, SHIPPED), "show", "staging") == 2
    assert capsys.readouterr().err == "stacks: 'staging' is not a stack the workflows deploy: dev, prod\n"


def test_a_stacks_environment_is_its_orchestra_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, "stacks:\n  dev: {}\n  eu: {}\n", ("dev",))
    (root / "Pulumi.eu.yaml").write_text("config:\n  orchestra:environment: prod\n")
    assert run(root, "environment", "eu") == 0
    assert capsys.readouterr().out == "prod\n"
    # dev's file names none: one line naming the setting, nothing on stdout.
    assert run(root, "environment", "dev") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"stacks: {root / 'Pulumi.dev.yaml'}: orchestra:environment is not set; it must be one of dev, staging, prod\n"
    )
    assert run(root, "environment", "staging") == 2
    assert "is not a stack the workflows deploy" in capsys.readouterr().err


def test_the_shipped_stacks_environments_are_their_names(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).resolve().parents[2]
    for stack in ("dev", "prod"):
        assert main(["--project", str(shipped), "environment", stack]) == 0
        assert capsys.readouterr().out == f"{stack}\n"
