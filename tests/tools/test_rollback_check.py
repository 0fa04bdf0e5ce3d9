"""`python -m tools.rollback_check` on small git histories: what a rollback target lacks is refused
with one line, before anything runs."""

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tools.rollback_check.checks import PIPELINE_FILES, declared_migrations
from tools.rollback_check.cli import main

ROOT = Path(__file__).resolve().parents[2]
LIMITER = "from components.cloudflare.durable_object_migrations import DurableObjectMigration\n"
V1 = 'MIGRATIONS = (DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"]),)\n'
V2 = (
    'MIGRATIONS = (\n    DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"]),\n'
    '    DurableObjectMigration(tag="v2", new_sqlite_classes=["Quota"]),\n)\n'
)


class History:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = os.environ | {
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(root),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def commit(self, files: Mapping[str, str | None]) -> str:
        for path, text in files.items():
            if text is None:
                (self.root / path).unlink()
                continue
            (self.root / path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / path).write_text(text)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", "step")
        return self.git("rev-parse", "HEAD")


LOCKED_PULUMI = "pulumi==3.272.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"
PIPELINE = {path: LOCKED_PULUMI if path == "requirements.txt" else "x\n" for path in PIPELINE_FILES}


def check(history: History, commit: str, against: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([commit, "--against", against, "--repository", str(history.root)])
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return code, out.strip()


def test_a_commit_with_every_migration_and_todays_pipeline_can_be_rolled_back_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History(tmp_path)
    old = history.commit({**PIPELINE, "systems/tenants/system.py": LIMITER + V1})
    new = history.commit({"systems/tenants/worker.py": "x = 1\n"})
    assert check(history, old, new, capsys) == (
        0,
        f"{old} can be rolled back to: today's pipeline runs it, and it keeps every Durable Object class.",
    )


def test_a_commit_before_an_applied_migration_is_refused_naming_the_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History(tmp_path)
    old = history.commit({**PIPELINE, "systems/tenants/system.py": LIMITER + V1})
    # v2 is declared in another module than v1 by then: steps are found wherever they are declared.
    new = history.commit({"systems/tenants/system.py": LIMITER, "systems/tenants/limits.py": LIMITER + V2})
    code, line = check(history, old, new, capsys)
    assert code == 1
    assert line == (
        f"::error::Cannot roll back to {old}: it predates the Durable Object migration v2 "
        f"(systems/tenants/limits.py:4) of {new}; Cloudflare refuses a script without a class a migration "
        "created (code 10064): roll forward instead."
    )


def test_a_changed_step_counts_as_a_step_the_target_lacks() -> None:
    v1 = declared_migrations({"systems/a.py": V1})
    other_classes = declared_migrations({"systems/a.py": V1.replace("RateLimiter", "Limiter")})
    assert len(v1) == 1 and v1.keys() != other_classes.keys()
    # Outside the systems (tests, tools) nothing is declared.
    assert declared_migrations({"systems/a.py": "x = 1\n"}) == {}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {".github/actions/setup-pulumi/action.yml": None},
            "it lacks .github/actions/setup-pulumi/action.yml, which today's pipeline runs from the deployed commit",
        ),
        (
            {"policy/PulumiPolicy.yaml": None, "tools/smoke/__main__.py": None},
            "it lacks policy/PulumiPolicy.yaml, tools/smoke/__main__.py, which today's pipeline runs",
        ),
        (
            {"requirements.txt": LOCKED_PULUMI.replace("3.272.0", "3.168.2")},
            "its requirements.txt locks no Pulumi CLI of 3.169.0 or later by hash, which --run-program",
        ),
        ({"requirements.txt": "pulumi>=3\n"}, "its requirements.txt locks no Pulumi CLI of 3.169.0 or later"),
        ({"requirements.txt": "pulumi==3.272.0\n"}, "its requirements.txt locks no Pulumi CLI of 3.169.0 or later"),
    ],
)
def test_a_commit_whose_pipeline_lacks_what_todays_runs_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str | None], reason: str
) -> None:
    history = History(tmp_path)
    history.commit(PIPELINE)
    old = history.commit(change)
    new = history.commit({"README.md": "x\n"})
    code, line = check(history, old, new, capsys)
    assert code == 1
    assert line.startswith(f"::error::Cannot roll back to {old}: {reason}")


def test_a_commit_git_cannot_read_stops_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = History(tmp_path)
    head = history.commit(PIPELINE)
    code, line = check(history, "0" * 40, head, capsys)
    assert code == 2 and line.startswith(f"::error::rollback_check: git ls-tree {'0' * 40}: ")


def test_the_pipeline_files_are_what_pulumi_up_runs_from_the_checkout() -> None:
    workflow = (ROOT / ".github" / "workflows" / "pulumi-up.yml").read_text()
    assert "uses: ./.github/actions/setup-pulumi" in workflow
    assert "--policy-pack policy" in workflow and "-m tools.smoke" in workflow
    assert set(PIPELINE_FILES) == {
        ".github/actions/setup-pulumi/action.yml",
        "policy/PulumiPolicy.yaml",
        "tools/smoke/__main__.py",
        "requirements.txt",
    }


def test_this_repositorys_head_can_be_rolled_back_to(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["HEAD", "--against", "HEAD", "--repository", str(ROOT)])
    assert code == 0, capsys.readouterr().out
