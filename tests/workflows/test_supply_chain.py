"""What Orchestra is built from, checked on GitHub: Dependabot's updates, CodeQL's scans and the
dependency audits, with the repository's security policy, review owners and pull request template.
The linters that test_workflows.py runs over every workflow cover these workflows too; here, what
each must do."""

import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.workflows.test_workflows import ROOT, WORKFLOWS, load, zizmor

DEPENDABOT = ROOT / ".github" / "dependabot.yml"
NOT_SOURCE = {".git", ".venv", "node_modules", "build"}


def dependabot() -> dict[str, Any]:
    return yaml.safe_load(DEPENDABOT.read_text(encoding="utf-8"))


def updates(ecosystem: str) -> dict[str, Any]:
    (update,) = (u for u in dependabot()["updates"] if u["package-ecosystem"] == ecosystem)
    return update


def directories(update: dict[str, Any]) -> list[str]:
    return update.get("directories", [update.get("directory")])


def source_files(pattern: str) -> list[Path]:
    return sorted(p for p in ROOT.rglob(pattern) if not NOT_SOURCE & set(p.relative_to(ROOT).parts))


def python_inputs() -> list[Path]:
    """The requirements inputs `make lock` compiles: the program's and tools' at the root, each
    Lambda function's beside its system."""
    return source_files("requirements*.in") + source_files("systems/*/requirements/*.in")


def step_uses(job: dict[str, Any]) -> list[str]:
    return [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]


# --- Dependabot --------------------------------------------------------------------------------


def test_dependabot_updates_pip_npm_and_actions_weekly_in_one_group_each() -> None:
    config = dependabot()
    assert config["version"] == 2
    assert sorted(u["package-ecosystem"] for u in config["updates"]) == ["github-actions", "npm", "pip"]
    for update in config["updates"]:
        assert update["schedule"]["interval"] == "weekly", update["package-ecosystem"]
        [group] = update["groups"].values()
        assert group == {"patterns": ["*"]}, update["package-ecosystem"]
        # Dependabot would otherwise run code of the updated packages with its credentials.
        assert "insecure-external-code-execution" not in update


def test_dependabot_watches_every_python_lock_with_its_input() -> None:
    watched = {ROOT / d.strip("/") for d in directories(updates("pip"))}
    inputs = python_inputs()
    assert inputs, "no requirements .in inputs in the repository"
    assert {p.parent for p in inputs} == watched
    for source in inputs:
        assert source.with_suffix(".txt").is_file(), f"{source.relative_to(ROOT)} has no compiled lock beside it"


def test_dependabot_watches_npm_at_the_lock_and_every_action_user() -> None:
    assert directories(updates("npm")) == ["/"]
    assert (ROOT / "package-lock.json").is_file()
    actions = {ROOT / d.strip("/") for d in directories(updates("github-actions"))}
    composite = {p.parent for p in (ROOT / ".github" / "actions").glob("*/action.yml")}
    # "/" stands for .github/workflows; each composite action is its own directory.
    assert actions == {ROOT} | composite


def test_zizmor_audits_dependabot_and_holds_it_to_a_cooldown(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    shutil.copy(DEPENDABOT, tmp_path / ".github" / "dependabot.yml")
    kept = zizmor(tmp_path)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "dependabot.yml" in kept.stderr

    config = dependabot()
    for update in config["updates"]:
        del update["cooldown"]
    (tmp_path / ".github" / "dependabot.yml").write_text(yaml.safe_dump(config))
    hasty = zizmor(tmp_path)
    assert hasty.returncode != 0
    assert "[dependabot-cooldown]" in hasty.stdout


# --- CodeQL ------------------------------------------------------------------------------------


def test_codeql_scans_python_javascript_and_the_workflows_on_prs_main_and_weekly() -> None:
    codeql = load("codeql.yml")
    assert set(codeql["on"]) == {"push", "pull_request", "schedule"}
    assert codeql["on"]["push"] == {"branches": ["main"]}
    [job] = codeql["jobs"].values()
    assert job["strategy"]["matrix"]["language"] == ["python", "javascript-typescript", "actions"]
    assert job["permissions"] == {"contents": "read", "security-events": "write"}
    assert step_uses(job) == ["actions/checkout", "github/codeql-action/init", "github/codeql-action/analyze"]
    init = next(s for s in job["steps"] if s["uses"].startswith("github/codeql-action/init@"))
    assert init["with"]["build-mode"] == "none"
    # init and analyze are one release of the action: the same commit.
    assert len({s["uses"].split("@")[1] for s in job["steps"] if "codeql-action" in s["uses"]}) == 1


# --- Dependency audits -------------------------------------------------------------------------


def test_pip_audit_checks_every_lock_by_its_hashes_without_resolving() -> None:
    audit = load("dependency-audit.yml")
    assert "schedule" in audit["on"] and "pull_request" in audit["on"]
    job = audit["jobs"]["python"]
    assert job["permissions"] == {"contents": "read"}
    (step,) = (s for s in job["steps"] if s.get("uses", "").startswith("pypa/gh-action-pip-audit@"))
    assert step["with"]["require-hashes"] is True and step["with"]["no-deps"] is True
    locks = {p.with_suffix(".txt") for p in python_inputs()}
    assert locks
    assert sorted(step["with"]["inputs"].split()) == sorted(str(p.relative_to(ROOT)) for p in locks)


def test_npm_audit_installs_without_scripts_and_checks_signatures_and_advisories() -> None:
    job = load("dependency-audit.yml")["jobs"]["npm"]
    assert job["permissions"] == {"contents": "read"}
    scripts = "\n".join(s.get("run", "") for s in job["steps"])
    assert "npm ci --ignore-scripts" in scripts
    assert "npm audit signatures" in scripts
    assert "npm audit --audit-level=low" in scripts


def test_the_audits_need_the_internet_so_ci_run_does_not_call_them() -> None:
    local = (ROOT / ".ci" / "run").read_text() + (ROOT / "Makefile").read_text()
    assert "pip-audit" not in local and "npm audit" not in local


# --- Policy, owners, template ------------------------------------------------------------------


def test_security_policy_says_how_to_report_privately_and_what_guards_the_repository() -> None:
    policy = (ROOT / "SECURITY.md").read_text()
    assert "Report a vulnerability" in policy and "do not open a public issue" in policy
    for guard in (".github/dependabot.yml", ".github/workflows/codeql.yml", ".github/workflows/dependency-audit.yml"):
        assert guard in policy
        assert (ROOT / guard).is_file()


def test_codeowners_gives_every_path_an_owner_and_the_program_does_not_write_it() -> None:
    rules = [line.split() for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines()]
    rules = [rule for rule in rules if rule and not rule[0].startswith("#")]
    assert rules[0][0] == "*" and all(owner.startswith("@") for owner in rules[0][1:]) and rules[0][1:]
    # The program writes CODEOWNERS and dependabot.yml only for repositories delivery.yaml gives them.
    delivery = yaml.safe_load((ROOT / "delivery.yaml").read_text())
    [this] = [r for r in delivery["repositories"] if r["name"] == delivery["deploying_repository"]]
    assert "codeowners" not in this and "dependabot" not in this


def test_the_pull_request_template_asks_for_tests_and_what_a_deploy_does() -> None:
    template = (ROOT / ".github" / "pull_request_template.md").read_text()
    assert "## How it is tested" in template and "## What a deploy does" in template
    assert len([line for line in template.splitlines() if line.startswith("- [ ]")]) >= 4
    assert not (WORKFLOWS / "pull_request_template.md").exists()
