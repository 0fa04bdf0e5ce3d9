"""`python -m tools.fleet matrix`: the affected tenants as one GitHub Actions matrix per wave, in
deployment order, read from a real git range."""

import io
import json
from pathlib import Path

import pytest

from tests.tools.test_fleet import INSTANCE
from tests.tools.test_fleet_changes import commit, git
from tools.fleet.cli import main


def matrix(*args: str) -> tuple[int, str]:
    stream = io.StringIO()
    code = main(["matrix", *args], stream)
    return code, stream.getvalue()


def instance(root: Path, name: str, environment: str = "prod", wave: str | int | None = None) -> None:
    text = INSTANCE.format(id=name, environment=environment) + (f"wave: {wave}\n" if wave is not None else "")
    (root / "instances" / f"{name}.yaml").write_text(text)


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "instances").mkdir(parents=True)
    (root / "systems" / "tenants").mkdir(parents=True)
    instance(root, "acme", wave="canary")
    instance(root, "globex", wave=1)
    instance(root, "initech", wave=2)
    instance(root, "hooli")
    instance(root, "umbrella", wave=1)
    instance(root, "acme-dev", environment="dev", wave="canary")
    (root / "systems" / "tenants" / "image_gen.js").write_text("export default {};\n")
    git(root, "init", "-q", "-b", "main")
    commit(root)
    monkeypatch.chdir(root)
    return root


def test_every_tenant_of_the_environment_in_wave_order(fleet: Path) -> None:
    code, out = matrix("--stack-env", "prod", "--all")
    assert code == 0
    assert json.loads(out) == {
        "waves": [
            {"wave": "canary", "include": [{"tenant": "acme"}]},
            {"wave": "1", "include": [{"tenant": "globex"}, {"tenant": "umbrella"}]},
            {"wave": "2", "include": [{"tenant": "initech"}]},
            {"wave": "last", "include": [{"tenant": "hooli"}]},
        ],
        "removed": [],
        "destroy": [],
        "unmatched": [],
    }


def test_merging_a_new_instance_file_selects_only_the_new_tenant(fleet: Path) -> None:
    base = git(fleet, "rev-parse", "HEAD").strip()
    instance(fleet, "wayne", wave=3)
    commit(fleet)
    code, out = matrix("--stack-env", "prod", "--changed", f"{base}..HEAD")
    assert (code, json.loads(out)["waves"]) == (0, [{"wave": "3", "include": [{"tenant": "wayne"}]}])
    assert json.loads(out)["removed"] == []
    # The dev stack's deploy of the same merge has nothing to do.
    assert json.loads(matrix("--stack-env", "dev", "--changed", f"{base}..HEAD")[1])["waves"] == []


def test_a_shared_module_selects_every_tenant_and_a_removal_is_reported(fleet: Path) -> None:
    base = git(fleet, "rev-parse", "HEAD").strip()
    (fleet / "systems" / "tenants" / "image_gen.js").write_text("export default { fetch() {} };\n")
    (fleet / "instances" / "hooli.yaml").unlink()
    commit(fleet)
    code, out = matrix("--stack-env", "prod", "--changed", f"{base}..HEAD", "--github-outputs")
    assert code == 0
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert list(lines) == ["wave-1", "wave-2", "wave-3", "wave-4", "wave-5", "removed", "destroy", "unmatched"]
    assert [json.loads(lines[f"wave-{n}"])["wave"] for n in (1, 2, 3)] == ["canary", "1", "2"]
    assert json.loads(lines["wave-2"])["include"] == [{"tenant": "globex"}, {"tenant": "umbrella"}]
    # Fewer waves than the workflow's: the later wave jobs get nothing and are skipped.
    assert (lines["wave-4"], lines["wave-5"], lines["removed"]) == ("", "", "hooli")
    # The pull request did not ask: the removed tenant is listed, and nothing destroys it.
    assert (lines["destroy"], lines["unmatched"]) == ("", "")


def remove(fleet: Path, *names: str) -> str:
    """Commit the deletion of these instance files; the range of that commit."""
    base = git(fleet, "rev-parse", "HEAD").strip()
    for name in names:
        (fleet / "instances" / f"{name}.yaml").unlink()
    commit(fleet)
    return f"{base}..HEAD"


def test_a_removed_tenant_is_destroyed_only_when_the_pull_request_says_so(fleet: Path, tmp_path: Path) -> None:
    changed = remove(fleet, "hooli", "initech")
    body = tmp_path / "body.md"
    body.write_text("Retire hooli.\r\n\r\nDestroy tenant stack: hooli\r\nDestroy tenant stack: acme\r\n")
    code, out = matrix(
        "--stack-env", "prod", "--changed", changed, "--pull-request-body", str(body), "--github-outputs"
    )
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert code == 0
    assert (lines["removed"], lines["destroy"]) == ("hooli initech", "hooli")
    # acme still has its instance file: the request is named, never acted on.
    assert lines["unmatched"] == "acme"
    assert lines["wave-1"] == ""


def test_an_unreadable_pull_request_body_stops_the_matrix(
    fleet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.md"
    assert matrix("--stack-env", "prod", "--all", "--pull-request-body", str(missing)) == (2, "")
    assert (
        capsys.readouterr().err
        == f"fleet: --pull-request-body: {missing}: cannot be read (No such file or directory)\n"
    )


def test_more_waves_than_the_workflow_runs_are_refused(fleet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = matrix("--stack-env", "prod", "--all", "--max-waves", "3")
    assert (code, out) == (2, "")
    assert capsys.readouterr().err == (
        "fleet: the tenants to deploy are in 4 waves (canary, 1, 2, last), the workflow runs at most 3: "
        "give fewer distinct `wave:` values\n"
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--removed", "hooli"], "fleet: matrix: --removed names stacks to destroy, which no matrix deploys"),
        (["--tenants", "acme-dev"], "fleet: --tenants: 'acme-dev' is a dev tenant, not prod"),
        (["--changed", "nonsense"], "fleet: --changed: expected BASE..HEAD, got 'nonsense'"),
    ],
)
def test_a_bad_selection_prints_no_matrix(
    fleet: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    assert matrix("--stack-env", "prod", *args) == (2, "")
    assert capsys.readouterr().err.splitlines() == [error]
