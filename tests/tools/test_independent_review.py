"""The Independent review check, run as the workflow runs it, against a `gh` that answers from a
table of GitHub's responses and fails every call it has no answer for."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "example-org/orchestra"
PULL = f"repos/{REPOSITORY}/pulls/7"
HEAD = "c0ffee"
APP_COMMIT = {
    "commit": {
        "message": "New instance acme\n\nProposed with the New instance workflow.\n\nRequested-by: @alice (1001)"
    }
}
# `gh api PATH --paginate --jq '.[] | tojson'` prints one JSON value a line; `--jq .permission`, the text.
FAKE_GH = """\
import json, sys
table = json.load(open(sys.argv[1]))
path = sys.argv[4]  # after `api`
with open(sys.argv[2], "a") as log:
    log.write(path + "\\n")
if path not in table:
    print(f"gh: Not Found (HTTP 404)", file=sys.stderr)
    sys.exit(1)
answer = table[path]
print("\\n".join(json.dumps(item) for item in answer) if isinstance(answer, list) else answer)
"""


def review(login: str, user_id: int, state: str, commit: str = HEAD) -> dict[str, Any]:
    return {"user": {"login": login, "id": user_id}, "state": state, "commit_id": commit}


def run_check(tmp_path: Path, table: dict[str, Any]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    (tmp_path / "table.json").write_text(json.dumps(table))
    (tmp_path / "fake_gh.py").write_text(FAKE_GH)
    gh = tmp_path / "bin" / "gh"
    gh.parent.mkdir()
    gh.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{tmp_path}/fake_gh.py" "{tmp_path}/table.json" "{tmp_path}/gh.log" "$@"\n'
    )
    gh.chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-m", "tools.independent_review", "--repository", REPOSITORY, "--pull", "7", "--head", HEAD],
        cwd=ROOT,
        env={"PATH": f"{gh.parent}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    log = tmp_path / "gh.log"
    return result, log.read_text().splitlines() if log.exists() else []


def permissions(**by_login: str) -> dict[str, str]:
    return {f"repos/{REPOSITORY}/collaborators/{login}/permission": value for login, value in by_login.items()}


def test_a_pull_request_nobody_is_named_in_passes_on_the_rulesets_rules(tmp_path: Path) -> None:
    result, calls = run_check(tmp_path, {f"{PULL}/commits": [{"commit": {"message": "Fix a typo"}}]})
    assert result.returncode == 0, result.stdout
    assert calls == [f"{PULL}/commits"]  # nobody's review needs reading


def test_the_requesters_own_approval_does_not_count(tmp_path: Path) -> None:
    table = {
        f"{PULL}/commits": [APP_COMMIT],
        f"{PULL}/reviews": [review("alice", 1001, "APPROVED")],
        **permissions(alice="admin"),
    }
    result, _ = run_check(tmp_path, table)
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "::error::Requested by @alice: an approval of the head commit by another writer is needed."
    )


def test_a_renamed_requester_is_still_known_by_id(tmp_path: Path) -> None:
    table = {
        f"{PULL}/commits": [APP_COMMIT],
        f"{PULL}/reviews": [review("alice-renamed", 1001, "APPROVED")],
        **permissions(**{"alice-renamed": "admin"}),
    }
    assert run_check(tmp_path, table)[0].returncode == 1


def test_another_writers_approval_of_the_head_passes(tmp_path: Path) -> None:
    table = {
        f"{PULL}/commits": [APP_COMMIT],
        f"{PULL}/reviews": [review("alice", 1001, "APPROVED"), review("bob", 1002, "APPROVED")],
        **permissions(bob="write"),
    }
    result, calls = run_check(tmp_path, table)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "Requested by @alice; approved by @bob."
    assert f"repos/{REPOSITORY}/collaborators/alice/permission" not in calls


@pytest.mark.parametrize(
    "reviews",
    [
        pytest.param([review("bob", 1002, "APPROVED", commit="older")], id="approved-an-older-commit"),
        pytest.param([review("bob", 1002, "APPROVED"), review("bob", 1002, "DISMISSED")], id="dismissed"),
        pytest.param(
            [review("bob", 1002, "APPROVED"), review("bob", 1002, "CHANGES_REQUESTED")], id="then-asked-for-changes"
        ),
        pytest.param([review("bob", 1002, "COMMENTED")], id="only-commented"),
    ],
)
def test_an_approval_that_no_longer_stands_does_not_count(tmp_path: Path, reviews: list[dict[str, Any]]) -> None:
    table = {f"{PULL}/commits": [APP_COMMIT], f"{PULL}/reviews": reviews, **permissions(bob="write")}
    assert run_check(tmp_path, table)[0].returncode == 1


def test_a_comment_after_an_approval_leaves_it_standing(tmp_path: Path) -> None:
    reviews = [review("bob", 1002, "APPROVED"), review("bob", 1002, "COMMENTED")]
    table = {f"{PULL}/commits": [APP_COMMIT], f"{PULL}/reviews": reviews, **permissions(bob="write")}
    assert run_check(tmp_path, table)[0].returncode == 0


@pytest.mark.parametrize("permission", ["read", "triage", "none"])
def test_an_approval_by_someone_who_cannot_push_does_not_count(tmp_path: Path, permission: str) -> None:
    # Anyone may approve a pull request of a public repository; only writers' approvals count.
    table = {
        f"{PULL}/commits": [APP_COMMIT],
        f"{PULL}/reviews": [review("mallory", 1003, "APPROVED")],
        **permissions(mallory=permission),
    }
    assert run_check(tmp_path, table)[0].returncode == 1


def test_everyone_a_commit_names_is_a_requester(tmp_path: Path) -> None:
    rerun = {"commit": {"message": APP_COMMIT["commit"]["message"] + "\nRequested-by: @bob (1002)"}}
    table = {
        f"{PULL}/commits": [rerun],
        f"{PULL}/reviews": [review("bob", 1002, "APPROVED")],
        **permissions(bob="write"),
    }
    result, _ = run_check(tmp_path, table)
    assert result.returncode == 1
    assert "Requested by @alice, @bob:" in result.stdout


def test_a_failed_call_fails_the_check_with_one_line(tmp_path: Path) -> None:
    result, _ = run_check(tmp_path, {f"{PULL}/commits": [APP_COMMIT]})
    assert result.returncode == 2
    assert result.stdout.strip() == f"::error::independent review: GET {PULL}/reviews: gh: Not Found (HTTP 404)"
