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
    }


def test_merging_a_new_instance_file_selects_only_the_new_tenant(fleet: Path) -> None:
    base = git(fleet, "rev-parse", "HEAD").strip()
    instance(fleet, "wayne", wave=3)
    commit(fleet)
    code, out = matrix("--stack-env", "prod", "--changed", f"{base}..HEAD")
    assert (code, json.loads(out)) == (0, {"waves": [{"wave": "3", "include": [{"tenant": "wayne"}]}], "removed": []})
    # The dev stack's deploy of the same merge has nothing to do.
    assert json.loads(matrix("--stack-env", "dev", "--changed", f"{base}..HEAD")[1]) == {"waves": [], "removed": []}


def test_a_shared_module_selects_every_tenant_and_a_removal_is_reported(fleet: Path) -> None:
    base = git(fleet, "rev-parse", "HEAD").strip()
    (fleet / "systems" / "tenants" / "image_gen.js").write_text("export default { fetch() {} };\n")
    (fleet / "instances" / "hooli.yaml").unlink()
    commit(fleet)
    code, out = matrix("--stack-env", "prod", "--changed", f"{base}..HEAD", "--github-outputs")
    assert code == 0
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert list(lines) == ["wave-1", "wave-2", "wave-3", "wave-4", "wave-5", "removed"]
    assert [json.loads(lines[f"wave-{n}"])["wave"] for n in (1, 2, 3)] == ["canary", "1", "2"]
    assert json.loads(lines["wave-2"])["include"] == [{"tenant": "globex"}, {"tenant": "umbrella"}]
    # Fewer waves than the workflow's: the later wave jobs get nothing and are skipped.
    assert (lines["wave-4"], lines["wave-5"], lines["removed"]) == ("", "", "hooli")


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
