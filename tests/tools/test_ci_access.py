"""`python -m tools.ci_access check`: the plan job stops, with one line, while the CI roles in AWS
are not what `bootstrap/` at the commit declares."""

import json
from pathlib import Path
from typing import Any

import pytest

from tools.ci_access.__main__ import BOOTSTRAP, expected_documents, main
from tools.offline_plan import evaluate_project


def write_live(directory: Path, documents: dict[str, Any], account: str = "210987654321") -> Path:
    """The documents as AWS would return them for a real account."""
    directory.mkdir(exist_ok=True)
    for kind, document in documents.items():
        (directory / f"{kind}.json").write_text(json.dumps(document).replace("123456789012", account))
    return directory


@pytest.fixture(scope="module")
def applied() -> dict[str, Any]:
    return expected_documents(evaluate_project(BOOTSTRAP, "dev"))


def test_roles_as_bootstrap_declares_them_pass(
    tmp_path: Path, applied: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # IAM accepts a single action or resource as a string: the same document.
    applied = json.loads(json.dumps(applied))
    first = applied["boundary"]["Statement"][0]
    first["Resource"] = first["Resource"][0]
    assert main(["check", "--stack", "dev", "--live", str(write_live(tmp_path / "live", applied))]) == 0
    assert capsys.readouterr().out == "the CI access of dev is what bootstrap/ declares\n"


def test_a_change_not_yet_applied_stops_with_one_line(
    tmp_path: Path, applied: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    older = json.loads(json.dumps(applied))
    older["deploy"]["Statement"] = [
        s for s in older["deploy"]["Statement"] if "secretsmanager:UpdateSecretVersionStage" not in s["Action"]
    ]
    assert main(["check", "--stack", "dev", "--live", str(write_live(tmp_path / "live", older))]) == 1
    assert capsys.readouterr().err == (
        "the CI access of dev differs from bootstrap/ at this commit (deploy): an administrator applies it first "
        "(cd bootstrap && pulumi up --stack dev), then re-run\n"
    )


def test_the_other_stacks_roles_do_not_pass(tmp_path: Path, applied: dict[str, Any]) -> None:
    assert main(["check", "--stack", "prod", "--live", str(write_live(tmp_path / "live", applied))]) == 1


def test_unreadable_documents_are_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--stack", "dev", "--live", str(tmp_path)]) == 2
    assert "cannot read the CI roles' documents" in capsys.readouterr().err


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_names_the_plan_job_fetches_are_the_bootstrap_stacks_own(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = evaluate_project(BOOTSTRAP, stack)
    assert main(["names", "--stack", stack]) == 0
    names = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    roles = {role.inputs["name"]: role.inputs["path"] for role in plan.of_type("aws:iam/role:Role")}
    assert roles[names["deploy-role"]] == roles[names["read-role"]] == "/github-actions/"
    (boundary,) = plan.of_type("aws:iam/policy:Policy")
    assert names["boundary-policy"] == f"{boundary.inputs['path']}{boundary.inputs['name']}"
