import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.offline_plan import PLACEHOLDER_PREFIX
from tools.offline_plan.cli import EXIT_POLICY_VIOLATION, main

REPO_ROOT = Path(__file__).resolve().parents[2]


def offline_plan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command exactly as a person or CI runs it, from the project directory."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tools.offline_plan", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


# The fixture hands its function a password in an environment variable: the policy pack refuses it.
PASSWORD_VIOLATION = (
    "  [mandatory] no-credentials-in-plain-settings: api-handler (aws:lambda/function:Function): "
    "environment variable PASSWORD looks like a credential: use a secret binding, a secret store or an Actions secret\n"
)


def test_the_command_leaves_its_objects_to_the_exit_uncollected(shop: Path) -> None:
    at_exit = (
        "import atexit, gc, runpy, sys; sys.argv = ['offline_plan', 'urns']; "
        "atexit.register(lambda: print('frozen:', gc.get_freeze_count() > 0, file=sys.stderr)); "
        "runpy.run_module('tools.offline_plan', run_name='__main__')"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", at_exit], cwd=shop, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith("frozen: True\n")


def test_the_default_run_plans_dev_in_the_current_directory(shop: Path) -> None:
    result = offline_plan(cwd=shop)

    assert result.returncode == EXIT_POLICY_VIOLATION, result.stderr
    assert result.stderr == "Policies: 1 mandatory, 0 advisory violations\n" + PASSWORD_VIOLATION
    assert result.stdout.startswith("shop-dev (pulumi:pulumi:Stack)\n└─ api (shop:index:Service)\n")
    assert result.stdout.endswith(
        "Plan for shop-dev: 7 resources (1 aws:cloudwatch/logGroup:LogGroup, 1 aws:dynamodb/table:Table,"
        " 1 aws:iam/role:Role, 1 aws:lambda/function:Function, 1 random:index/randomPassword:RandomPassword,"
        " 1 shop:index:Service, 1 shop:index:Vault)\n"
    )
    assert "[protected]" not in result.stdout


def test_json_is_byte_identical_across_runs_and_never_holds_a_placeholder(shop: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first" / "plan.json", tmp_path / "second.json"

    runs = [offline_plan("--stack", "prod", "--json", str(path), cwd=shop) for path in (first, second)]

    # The plan is written even when a mandatory policy is violated.
    assert [run.returncode for run in runs] == [EXIT_POLICY_VIOLATION, EXIT_POLICY_VIOLATION]
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_text())
    assert (document["project"], document["stack"]) == ("shop", "prod")
    assert document["outputs"]["apiToken"] == "[secret]"
    assert [r["name"] for r in document["resources"] if r["protect"]] == ["api-orders", "api-vault"]
    assert [r["urn"] for r in document["resources"]] == sorted(r["urn"] for r in document["resources"])
    assert "[protected] [retain on delete]" in runs[0].stdout
    for text in (runs[0].stdout, runs[0].stderr, first.read_text()):
        assert PLACEHOLDER_PREFIX not in text


def test_a_bad_stack_configuration_prints_one_line_and_exits_2(shop: Path) -> None:
    result = offline_plan("--stack", "broken", "--project-dir", str(shop), cwd=REPO_ROOT)

    assert result.returncode == 2
    assert result.stderr == "shop:logRetentionDays: must be one of 7, 30, 90 (got 5)\n"
    assert result.stdout == ""


def test_a_malformed_stack_file_is_a_configuration_error_too(shop: Path) -> None:
    (shop / "Pulumi.dev.yaml").write_text("config:\n  shop:logRetentionDays: soon\n")

    result = offline_plan(cwd=shop)

    assert result.returncode == 2
    assert result.stderr == "Stack 'dev' with configuration key 'shop:logRetentionDays' must be of type 'integer'\n"


def test_any_other_exception_is_a_bug_with_a_traceback(shop: Path) -> None:
    (shop / "__main__.py").write_text("raise ValueError('not a configuration problem')\n")

    result = offline_plan(cwd=shop)

    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().endswith("ValueError: not a configuration problem")


def test_diff_of_two_revisions_in_text_and_markdown(shop: Path, tmp_path: Path) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    assert offline_plan("--json", str(before), cwd=shop).returncode == EXIT_POLICY_VIOLATION
    service = shop / "service.py"
    service.write_text(service.read_text().replace("memory_size=256", "memory_size=512"))
    assert offline_plan("--json", str(after), cwd=shop).returncode == EXIT_POLICY_VIOLATION

    text = offline_plan("diff", str(before), str(after), cwd=shop)
    markdown = offline_plan("diff", str(before), str(after), "--format", "markdown", cwd=shop)
    unchanged = offline_plan("diff", str(before), str(before), cwd=shop)

    assert text.returncode == markdown.returncode == unchanged.returncode == 0
    assert text.stdout == (
        "Plan diff for shop-dev: +0 ~1 -0 (6 unchanged)\n"
        "\n"
        "Changed:\n"
        "  ~ api-handler (aws:lambda/function:Function)\n"
        "      memorySize: 256 → 512\n"
    )
    assert "| `memorySize` | `256` | `512` |" in markdown.stdout
    assert unchanged.stdout == "Plan diff for shop-dev: no changes (7 resources unchanged)\n"


def test_diff_of_a_file_that_is_not_a_plan_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_plan = tmp_path / "notes.json"
    not_a_plan.write_text("[1, 2]")

    assert main(["diff", str(not_a_plan), str(not_a_plan)]) == 2
    assert capsys.readouterr().err.startswith(f"{not_a_plan}: not a readable plan")


@pytest.mark.parametrize(
    "reference",
    ["organization/orchestra/prod", "prod=plan.json", "organization/orchestra/prod="],
)
def test_a_malformed_reference_is_one_line(reference: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--reference", reference]) == 2
    assert capsys.readouterr().err == (
        f"--reference: expected <organization>/<project>/<stack>=<plan.json or project dir>, got {reference!r}\n"
    )


def test_a_reference_to_a_file_that_is_not_a_plan_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plan.json").write_text("{}")
    assert main(["--reference", f"organization/orchestra/prod={tmp_path / 'plan.json'}"]) == 2
    assert capsys.readouterr().err.startswith("--reference: expected a JSON object")
