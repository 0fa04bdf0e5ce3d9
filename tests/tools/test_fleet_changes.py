"""`--changed BASE..HEAD`: which tenants a git range affects, through the one table of path patterns."""

import io
import subprocess
from pathlib import Path

import pytest

from tests.tools.test_fleet import INSTANCE
from tools.fleet.changes import IMPACT_OF_PATHS, ChangesError, Impact, impact_of, range_impact
from tools.fleet.cli import main
from tools.fleet.selection import SelectionError, changed
from tools.fleet.waves import Tenant


@pytest.mark.parametrize(
    ("path", "impact"),
    [
        ("instances/acme.yaml", Impact.TENANT),
        ("instances/acme.yml", Impact.TENANT),
        ("instances/acme.json", Impact.TENANT),
        ("instances/README.md", None),
        ("instances/old/acme.yaml", None),
        ("tenants/__main__.py", Impact.ALL),
        ("tenants/Pulumi.yaml", Impact.ALL),
        ("systems/tenants/config_service.js", Impact.ALL),
        ("systems/tenants/migrations/0001_init.sql", Impact.ALL),
        ("systems/worker_common/http.js", Impact.ALL),
        ("components/cloudflare/worker.py", Impact.ALL),
        ("stack_config/model.py", Impact.ALL),
        ("requirements.txt", Impact.ALL),
        ("systems/orchestrator/handlers/worker.py", None),
        ("systems/ai_worker/worker.js", None),
        ("README.md", None),
        ("tests/tools/test_fleet.py", None),
        (".github/workflows/deploy.yml", None),
        ("requirements-dev.txt", None),
        ("systems/tenants", None),
        ("mysystems/tenants/x.py", None),
    ],
)
def test_each_path_has_one_impact(path: str, impact: Impact | None) -> None:
    assert impact_of(path) is impact


def test_every_pattern_of_the_table_is_reached() -> None:
    # No pattern hides behind an earlier one.
    for pattern, impact in IMPACT_OF_PATHS:
        example = pattern.replace("**", "x/y.py").replace("*", "acme")
        assert impact_of(example) is impact, pattern


def git(root: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "instances").mkdir(parents=True)
    (root / "systems" / "tenants").mkdir(parents=True)
    (root / "systems" / "orchestrator").mkdir(parents=True)
    for name, environment in (("acme", "prod"), ("globex", "prod"), ("initech", "prod"), ("acme-dev", "dev")):
        (root / "instances" / f"{name}.yaml").write_text(INSTANCE.format(id=name, environment=environment))
    (root / "systems" / "tenants" / "image_gen.js").write_text("export default {};\n")
    (root / "systems" / "orchestrator" / "app.py").write_text("")
    (root / "README.md").write_text("# repo\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    monkeypatch.chdir(root)
    return root


def commit(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", "change")


def test_a_changed_or_added_instance_file_selects_that_tenant_of_the_environment(repo: Path) -> None:
    (repo / "instances" / "globex.yaml").write_text(INSTANCE.format(id="globex", environment="prod") + "wave: 1\n")
    (repo / "instances" / "hooli.yaml").write_text(INSTANCE.format(id="hooli", environment="prod"))
    (repo / "instances" / "acme-dev.yaml").write_text(INSTANCE.format(id="acme-dev", environment="dev") + "wave: 2\n")
    (repo / "README.md").write_text("# repo, documented\n")
    commit(repo)
    prod = changed(Path("instances"), "prod", "HEAD~1..HEAD")
    assert prod.tenants == (Tenant("globex", 1), Tenant("hooli"))
    assert prod.removed == ()
    assert changed(Path("instances"), "dev", "HEAD~1..HEAD").tenants == (Tenant("acme-dev", 2),)


def test_a_shared_module_selects_every_tenant_of_the_environment(repo: Path) -> None:
    (repo / "systems" / "tenants" / "image_gen.js").write_text("export default { fetch() {} };\n")
    commit(repo)
    assert [t.name for t in changed(Path("instances"), "prod", "HEAD~1..HEAD").tenants] == [
        "acme",
        "globex",
        "initech",
    ]


def test_other_changes_select_no_tenant(repo: Path) -> None:
    (repo / "systems" / "orchestrator" / "app.py").write_text("print()\n")
    (repo / "README.md").write_text("# repo, documented\n")
    commit(repo)
    assert changed(Path("instances"), "prod", "HEAD~1..HEAD").tenants == ()


def test_a_removed_instance_file_is_reported_not_deployed(repo: Path) -> None:
    (repo / "instances" / "initech.yaml").unlink()
    (repo / "instances" / "acme-dev.yaml").unlink()
    commit(repo)
    prod = changed(Path("instances"), "prod", "HEAD~1..HEAD")
    assert (prod.tenants, prod.removed) == ((), ("initech",))
    assert changed(Path("instances"), "dev", "HEAD~1..HEAD").removed == ("acme-dev",)
    # A rename is a removal and an addition.
    git(repo, "mv", "instances/globex.yaml", "instances/globex-eu.yaml")
    (repo / "instances" / "globex-eu.yaml").write_text(INSTANCE.format(id="globex-eu", environment="prod"))
    commit(repo)
    renamed = changed(Path("instances"), "prod", "HEAD~1..HEAD")
    assert (renamed.tenants, renamed.removed) == ((Tenant("globex-eu"),), ("globex",))


def test_the_cli_deploys_nothing_for_a_removal_and_says_how_to_destroy(repo: Path) -> None:
    (repo / "instances" / "initech.yaml").unlink()
    commit(repo)
    stream = io.StringIO()
    assert main(["up", "--stack-env", "prod", "--changed", "HEAD~1..HEAD"], stream) == 0
    assert stream.getvalue().splitlines() == [
        "initech: instance file removed, needs an explicit destroy "
        "(python -m tools.fleet destroy --stack-env prod --removed initech); not deployed",
        "No prod tenant to up.",
    ]


def test_the_merge_base_form_of_a_range_is_accepted(repo: Path) -> None:
    git(repo, "checkout", "-qb", "feature")
    (repo / "instances" / "acme.yaml").write_text(INSTANCE.format(id="acme", environment="prod") + "wave: canary\n")
    commit(repo)
    assert changed(Path("instances"), "prod", "main...feature").tenants == (Tenant("acme", "canary"),)


def test_a_range_git_cannot_read_is_one_line(repo: Path) -> None:
    with pytest.raises(ChangesError, match=r"^git diff failed: fatal: ") as raised:
        range_impact("nosuchbranch..HEAD")
    assert "\n" not in str(raised.value)
    with pytest.raises(ChangesError, match=r"^--changed: expected BASE..HEAD, got '--output=x..HEAD'$"):
        range_impact("--output=x..HEAD")


def test_an_instance_file_changed_in_the_range_but_missing_here_is_an_error(repo: Path) -> None:
    (repo / "instances" / "globex.yaml").write_text(INSTANCE.format(id="globex", environment="prod") + "wave: 1\n")
    commit(repo)
    (repo / "instances" / "globex.yaml").unlink()
    with pytest.raises(SelectionError, match=r"changes the instance file of 'globex', which the working tree"):
        changed(Path("instances"), "prod", "HEAD~1..HEAD")
