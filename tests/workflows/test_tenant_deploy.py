"""The tenant stacks' deploy (tenants.yml, tenant-wave.yml): after the platform deploy, the affected
tenants only, wave after wave, each wave approved once in the stack's guarded environment, each
tenant planned, applied and smoke-checked on its own, with the platform's token masked first; a
removed tenant destroyed only when the merged pull request names it."""

import json
import re
import subprocess
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from stack_config.stacks import tenants_environment
from tests.workflows.test_workflows import (
    ALL,
    ROOT,
    SHA,
    STACKS,
    calls,
    delivery_environments,
    environment_names,
    fake_commands,
    jobs,
    outputs,
    pulumi_commands,
    run_script,
    step,
)

TENANTS = ALL["tenants.yml"]["jobs"]
WAVE = ALL["tenant-wave.yml"]["jobs"]
WAVE_JOBS = sorted((job_id for job_id in TENANTS if job_id.startswith("wave-")), key=lambda j: int(j.split("-")[1]))
AFFECTED = "Find the tenants the commits affect"


CALLED = "./.github/workflows/"
STACKS_MATRIX = {"include": "${{ fromJSON(needs.stacks.outputs.matrix) }}"}
Job = tuple[str, ...]  # job ids from deploy.yml down; a leg of the stacks' matrix is `job[stack]`


class Run(NamedTuple):
    stack: str | None
    uses: str | None  # the workflow the job calls
    needs: frozenset[Job]  # the jobs it needs: it runs only once they succeeded
    waits: frozenset[Job]  # every job it starts after, its needs and the legs before its own


def runs(
    workflow: str, path: Job = (), stack: str | None = None, before: frozenset[Job] = frozenset()
) -> dict[Job, Run]:
    """The jobs of `workflow` as GitHub starts them, those of the workflows it calls included: a
    job needing a matrix job waits for every leg, a job of a called workflow starts after what its
    caller waits for, and a leg of a `max-parallel: 1` matrix after the leg before it."""
    found: dict[Job, Run] = {}
    finished: dict[str, frozenset[Job]] = {}
    pending = dict(ALL[workflow]["jobs"])
    while pending:
        job_id, job = next((j, job) for j, job in pending.items() if set(needs_of(job)) <= set(finished))
        del pending[job_id]
        needs = frozenset().union(*(finished[n] for n in needs_of(job)))
        over_stacks = job.get("strategy", {}).get("matrix") == STACKS_MATRIX
        one_at_a_time = job.get("strategy", {}).get("max-parallel") == 1
        uses = str(job.get("uses", "")).removeprefix(CALLED) or None
        done: frozenset[Job] = frozenset()
        previous: frozenset[Job] = frozenset()
        for leg in [s.name for s in STACKS] if over_stacks else [stack]:
            node = (*path, f"{job_id}[{leg}]" if over_stacks else job_id)
            waits = before | needs | previous
            found[node] = Run(leg, uses, needs, waits)
            leg_done = frozenset({node})
            if uses is not None:
                passed = job.get("with", {}).get("stack")
                inner = leg if passed in ("${{ matrix.stack }}", "${{ inputs.stack }}") else None
                called = runs(uses, node, inner, waits | {node})
                found |= called
                leg_done |= frozenset(called)
            done |= leg_done
            previous = leg_done if one_at_a_time else frozenset()
        finished[job_id] = done
    return found


def needs_of(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def started_after(graph: dict[Job, Run], job: Job) -> set[Job]:
    """Every job `job` starts after: what it waits for, what those wait for, and so on."""
    seen: set[Job] = set()
    frontier = list(graph[job].waits)
    while frontier:
        if (other := frontier.pop()) not in seen:
            seen.add(other)
            frontier.extend(graph[other].waits)
    return seen


DEPLOY = runs("deploy.yml")
ORDER = [s.name for s in STACKS]


def the_call_of(workflow: str) -> dict[str | None, Job]:
    called = [(run.stack, job) for job, run in DEPLOY.items() if run.uses == workflow]
    assert len({stack for stack, _ in called}) == len(called), f"{workflow} is called twice for a stack"
    return dict(called)


def test_each_stacks_tenants_need_its_own_platform_only() -> None:
    platforms, tenants = the_call_of("pulumi-up.yml"), the_call_of("tenants.yml")
    assert list(platforms) == list(tenants) == ORDER
    for stack in ORDER:
        platform = {job for job in DEPLOY if job[: len(platforms[stack])] == platforms[stack]}
        # They run once that stack's platform deploy succeeded, its apply and smoke check included,
        # and wait for no other stack's.
        assert platform <= DEPLOY[tenants[stack]].needs
        assert {DEPLOY[job].stack for job in DEPLOY[tenants[stack]].needs} == {stack}
        # Nothing of a later stack comes before them (None: the tests, the stacks' list, supersede).
        earlier = {DEPLOY[job].stack for job in started_after(DEPLOY, tenants[stack])}
        assert earlier <= {None, *ORDER[: ORDER.index(stack) + 1]}, earlier


def test_the_stacks_are_deployed_in_delivery_order_each_with_its_tenants_before_the_next() -> None:
    platforms, tenants = the_call_of("pulumi-up.yml"), the_call_of("tenants.yml")
    for before, after in pairwise(ORDER):
        tenants_before = {job for job in DEPLOY if job[: len(tenants[before])] == tenants[before]}
        assert tenants_before <= started_after(DEPLOY, platforms[after])
        assert platforms[after] not in started_after(DEPLOY, tenants[before])
    # One leg per stack, its platform and its tenants: a failed stack stops the stacks after it.
    legs = ALL["deploy.yml"]["jobs"]["deploy"]
    assert legs["uses"] == "./.github/workflows/stack-deploy.yml"
    assert (legs["strategy"]["max-parallel"], legs["strategy"]["fail-fast"]) == (1, True)
    assert legs["strategy"]["matrix"] == STACKS_MATRIX
    assert legs["secrets"] == "inherit"
    assert [job for job in ALL["deploy.yml"]["jobs"] if "deploy" in needs_of(ALL["deploy.yml"]["jobs"][job])] == [
        "notify"
    ]


def test_the_deploy_nests_workflows_no_deeper_than_github_enterprise_server_allows() -> None:
    # Four levels, the caller included; GitHub.com allows ten. At most 20 distinct called workflows.
    assert max(len(job) for job in DEPLOY) <= 4
    assert len({run.uses for run in DEPLOY.values() if run.uses}) <= 20


def test_the_notification_has_each_stacks_result_its_tenants_included_and_who_superseded_it() -> None:
    notify = ALL["deploy.yml"]["jobs"]["notify"]
    # notify.yml reads name=result pairs; the run's status is the worst of them.
    pairs = re.findall(r"(\w+)=\$\{\{ needs\.(\w+)\.result \}\}", notify["with"]["results"])
    assert sorted(pairs) == sorted((job, job) for job in notify["needs"])
    assert "deploy" in notify["needs"]
    # The stacks' legs end with their tenants, so their result is the tenants' too.
    assert set(ALL["stack-deploy.yml"]["jobs"]) == {"platform", "tenants"}
    assert notify["with"]["superseded-by"] == "${{ needs.deploy.outputs.superseded-by }}"
    forwarded = ALL["stack-deploy.yml"]["on"]["workflow_call"]["outputs"]["superseded-by"]
    assert forwarded["value"] == "${{ jobs.platform.outputs.superseded-by }}"
    assert "superseded-by" in ALL["pulumi-up.yml"]["on"]["workflow_call"]["outputs"]


def test_the_waves_are_dependent_jobs_in_order_each_skipped_without_tenants() -> None:
    assert [f"wave-{n}" for n in range(1, len(WAVE_JOBS) + 1)] == WAVE_JOBS and len(WAVE_JOBS) >= 2
    for index, job_id in enumerate(WAVE_JOBS):
        job = TENANTS[job_id]
        assert job["uses"] == "./.github/workflows/tenant-wave.yml"
        # The wave before must have succeeded: `if` without a status function implies success().
        assert job["needs"] == ("affected" if index == 0 else ["affected", WAVE_JOBS[index - 1]])
        assert job["if"] == f"needs.affected.outputs.{job_id} != ''"
        assert job["with"]["wave"] == f"${{{{ needs.affected.outputs.{job_id} }}}}"
        assert TENANTS["affected"]["outputs"][job_id] == f"${{{{ steps.affected.outputs.{job_id} }}}}"
    # tools.fleet refuses more waves than there are jobs, rather than run one out of order.
    script = step("tenants.yml", "affected", AFFECTED)["run"]
    assert f"--max-waves {len(WAVE_JOBS)} " in script


@pytest.mark.parametrize("job_id", ["plan", "apply"])
def test_each_tenant_is_a_leg_of_its_own_and_one_failure_leaves_the_others(job_id: str) -> None:
    strategy = WAVE[job_id]["strategy"]
    assert strategy["fail-fast"] is False
    assert isinstance(strategy["max-parallel"], int) and 1 <= strategy["max-parallel"] <= 64
    assert strategy["matrix"] == {"include": "${{ fromJSON(inputs.wave).include }}"}


def test_one_approval_per_wave_in_the_stacks_guarded_environment() -> None:
    gate = WAVE["gate"]
    assert "strategy" not in gate  # once for the wave, not per tenant
    assert gate["needs"] == "plan"
    assert gate["environment"] == "${{ inputs.deploy-environment }}"
    assert environment_names("tenant-wave.yml", "gate") == {s.deploy_environment for s in STACKS}
    [prod] = [s for s in STACKS if s.name == "prod"]
    assert delivery_environments()[prod.deploy_environment]["reviewed"]
    # The gate holds no credential: it only says yes.
    assert gate["permissions"] == {"contents": "read"}
    apply = WAVE["apply"]
    assert apply["needs"] == ["plan", "gate"]
    assert "needs.gate.result == 'success'" in apply["if"]
    assert "needs.gate.outputs.superseded-by == ''" in apply["if"]


def test_plans_in_the_plan_environment_and_applies_in_the_tenants_environment() -> None:
    assert environment_names("tenant-wave.yml", "plan") == {s.plan_environment for s in STACKS}
    assert WAVE["plan"]["environment"]["deployment"] is False
    assert environment_names("tenant-wave.yml", "apply") == {tenants_environment(s.name) for s in STACKS}
    declared = delivery_environments()
    for stack in STACKS:
        assert declared[tenants_environment(stack.name)] == {"reviewed": False, "default_branch_only": True}
    [up] = pulumi_commands(step("tenant-wave.yml", "apply", "Apply the approved plan")["run"])
    assert '--plan "$RUNNER_TEMP/plan/plan.json"' in up and "--yes" in up
    fetch = step("tenant-wave.yml", "apply", "Fetch the approved plan")
    keep = step("tenant-wave.yml", "plan", "Keep the plan for the apply job")
    assert fetch["with"]["name"] == keep["with"]["name"] == "tenant-plan-${{ inputs.stack }}-${{ matrix.tenant }}"


FAKE_PULUMI = """
case "$1 $2" in
  "stack output")
    case "$*" in
      *cloudflareApiToken*) echo 'cf-t0ken' ;;
      *apiKeys*) echo '{"primary": "k3y-one", "ci": "k3y-two"}' ;;
      *) echo '{}' ;;
    esac ;;
  "preview --stack" | "up --stack")
    echo "$1 in $(basename "$PWD") with $CLOUDFLARE_API_TOKEN"
    while [ $# -gt 0 ]; do [ "$1" = --save-plan ] && echo '{}' > "$2"; shift; done ;;
esac
exit 0"""


@pytest.mark.parametrize(("job_id", "name"), [("plan", "Save the tenant's plan"), ("apply", "Apply the approved plan")])
def test_the_platforms_token_is_masked_before_the_tenant_stack_runs(tmp_path: Path, job_id: str, name: str) -> None:
    (tmp_path / "tenants").mkdir()
    env = fake_commands(tmp_path, pulumi=FAKE_PULUMI) | {
        "STACK": "prod",
        "TENANT": "acme",
        "COMMIT": SHA,
        "MESSAGE": "Deploy",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    result = run_script(step("tenant-wave.yml", job_id, name)["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "::add-mask::cf-t0ken"
    pulumi = calls(tmp_path, "pulumi")
    # Read from the platform stack (the root project), then the tenant stack runs in tenants/.
    assert pulumi[:2] == ["login --non-interactive", "stack output cloudflareApiToken --show-secrets --stack prod"]
    verb = "preview" if job_id == "plan" else "up"
    [run] = [c for c in pulumi if c.startswith(verb)]
    assert run.startswith(f"{verb} --stack acme ") and "--refresh --run-program" in run
    assert f"{verb} in tenants with cf-t0ken" in result.stdout


@pytest.mark.parametrize(("job_id", "name"), [("plan", "Save the tenant's plan"), ("apply", "Apply the approved plan")])
def test_a_tenant_stack_never_runs_without_the_platforms_token(tmp_path: Path, job_id: str, name: str) -> None:
    (tmp_path / "tenants").mkdir()
    env = fake_commands(tmp_path, pulumi="exit 0") | {"STACK": "prod", "TENANT": "acme"}
    result = run_script(step("tenant-wave.yml", job_id, name)["run"], tmp_path, env)
    assert result.returncode == 1
    assert "no cloudflareApiToken output" in result.stdout
    assert [c.split()[0] for c in calls(tmp_path, "pulumi")] == ["login", "stack"]


def test_the_smoke_check_reads_the_tenant_stack_with_its_keys_masked(tmp_path: Path) -> None:
    (tmp_path / "tenants").mkdir()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    smoke = tmp_path / ".venv" / "bin" / "python"
    smoke.write_text(
        f'#!/usr/bin/env bash\nprintf "%s\\n" "$*" > "{tmp_path}/smoke.args"\nenv > "{tmp_path}/smoke.env"\n'
    )
    smoke.chmod(0o755)
    env = fake_commands(tmp_path, pulumi=FAKE_PULUMI) | {"TENANT": "acme"}
    result = run_script(step("tenant-wave.yml", "apply", "Smoke check")["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["::add-mask::k3y-one", "::add-mask::k3y-two"]
    assert (tmp_path / "smoke.args").read_text() == f"-m tools.smoke --stack acme --outputs {tmp_path}/outputs.json\n"
    assert 'SMOKE_API_KEYS={"primary": "k3y-one", "ci": "k3y-two"}' in (tmp_path / "smoke.env").read_text()
    assert "k3y" not in (tmp_path / "smoke.args").read_text()


@pytest.mark.parametrize(
    ("fetched", "applied", "smoked", "expected"),
    [
        ("success", "success", "success", "deployed"),
        ("success", "success", "failure", "smoke check failed"),
        ("success", "failure", "skipped", "apply failed"),
        ("failure", "skipped", "skipped", "plan failed"),
    ],
)
def test_each_tenant_records_its_result(tmp_path: Path, fetched: str, applied: str, smoked: str, expected: str) -> None:
    env = {"TENANT": "acme", "WAVE": "canary", "FETCHED": fetched, "APPLIED": applied, "SMOKED": smoked}
    result = run_script(step("tenant-wave.yml", "apply", "Record the tenant's result")["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "result" / "acme").read_text() == f"acme\tcanary\t{expected}\n"
    assert step("tenant-wave.yml", "apply", "Record the tenant's result")["if"] == "always()"


def test_only_the_destroy_output_destroys_and_only_in_the_stacks_deploy_environment() -> None:
    destroy = TENANTS["destroy"]
    assert destroy["needs"] == "affected"
    assert destroy["if"] == "needs.affected.outputs.destroy != ''"
    assert destroy["environment"] == "${{ inputs.deploy-environment }}"
    run = step("tenants.yml", "destroy", "Destroy the stacks the pull request names")
    assert run["env"]["DESTROY"] == "${{ needs.affected.outputs.destroy }}"
    assert '.venv/bin/python -m tools.fleet destroy --stack-env "$STACK_ENV" --removed "$DESTROY"' in run["run"]
    # Nothing else anywhere destroys a stack.
    destroyers = [(wf, job_id) for wf, job_id, s in steps_with("destroy")]
    assert destroyers == [("tenants.yml", "destroy")]


def steps_with(verb: str) -> list[tuple[str, str, dict[str, object]]]:
    pattern = re.compile(rf"(tools\.fleet {verb}|pulumi {verb})\b")
    return [
        (wf, job_id, s)
        for wf, job_id, job in jobs()
        for s in job.get("steps", [])
        if pattern.search(str(s.get("run", "")))
    ]


def test_the_destroy_is_told_apart_from_a_failure(tmp_path: Path) -> None:
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    fleet = tmp_path / ".venv" / "bin" / "python"
    fleet.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> "{tmp_path}/fleet.log"\nexit "$FLEET_STATUS"\n')
    fleet.chmod(0o755)
    script = step("tenants.yml", "destroy", "Destroy the stacks the pull request names")["run"]
    env = fake_commands(tmp_path, pulumi=FAKE_PULUMI) | {
        "STACK": "prod",
        "STACK_ENV": "prod",
        "DESTROY": "initech,umbrella",
    }
    done = run_script(script, tmp_path, env | {"FLEET_STATUS": "0"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "::add-mask::cf-t0ken"
    assert (
        tmp_path / "fleet.log"
    ).read_text() == "-m tools.fleet destroy --stack-env prod --removed initech,umbrella\n"
    assert (tmp_path / "result" / "umbrella").read_text() == "umbrella\tremoved\tdestroyed\n"
    failed = run_script(script, tmp_path, env | {"FLEET_STATUS": "1"})
    assert failed.returncode == 1
    assert (tmp_path / "result" / "initech").read_text() == "initech\tremoved\tdestroy failed\n"


# --- Which tenants: the commits since the last successful deploy -----------------------------

ADDED = "instance_id: initech\norg_id: initech\nenvironment: prod\nrate_limits:\n  ideogram-v3: {rpm: 5, tpm: 100}\n"


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture
def merged(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository whose last commit adds initech (in the canary wave), adds hooli and removes globex."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in (
        "tools",
        "systems",
        "stack_config",
        "components",
        ".venv",
        "Pulumi.dev.yaml",
        "Pulumi.prod.yaml",
        "delivery.yaml",
    ):
        (repo / name).symlink_to(ROOT / name)
    (repo / "instances").mkdir()
    for instance in ("acme.yaml", "globex.yaml", "acme-dev.yaml"):
        (repo / "instances" / instance).write_text((ROOT / "instances" / instance).read_text())
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "instances")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD")
    (repo / "instances" / "initech.yaml").write_text(ADDED + "api_keys: [primary]\nwave: canary\n")
    (repo / "instances" / "hooli.yaml").write_text(ADDED.replace("initech", "hooli") + "api_keys: [primary]\n")
    (repo / "instances" / "globex.yaml").unlink()
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A", "instances")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "merge")
    return repo, base, git(repo, "rev-parse", "HEAD")


def affected(
    repo: Path, head: str, last_success: str, body: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    gh = f"""case "$2" in
  */runs\\?*) echo '{last_success}' ;;
  */pulls) printf '%b\\n' '{body}' ;;
esac"""
    env = fake_commands(repo.parent, gh=gh) | {
        "REPOSITORY": "acme/orchestra",
        "DEFAULT_BRANCH": "main",
        "RUN_ID": "42",
        "COMMIT": head,
        "STACK": "prod",
        "GITHUB_OUTPUT": str(repo.parent / "out"),
        "GITHUB_STEP_SUMMARY": str(repo.parent / "summary.md"),
    }
    (repo.parent / "out").unlink(missing_ok=True)
    result = run_script(step("tenants.yml", "affected", AFFECTED)["run"], repo, env)
    return result, outputs(repo.parent / "out")


def test_a_merge_deploys_only_the_tenants_it_affects_in_waves(merged: tuple[Path, str, str]) -> None:
    repo, base, head = merged
    result, found = affected(
        repo, head, base, "Adds initech.\\nDestroy tenant stack: globex\\nDestroy tenant stack: acme"
    )
    assert result.returncode == 0, result.stderr
    assert found["stack-env"] == "prod"
    assert json.loads(found["wave-1"]) == {"wave": "canary", "include": [{"tenant": "initech"}]}
    assert json.loads(found["wave-2"]) == {"wave": "last", "include": [{"tenant": "hooli"}]}
    assert [found[f"wave-{n}"] for n in range(3, 6)] == ["", "", ""]
    assert found["planned"] == "initech:canary hooli:last"
    # globex's file is gone and the pull request names it; acme's is still there, so it is not destroyed.
    assert (found["removed"], found["destroy"], found["unmatched"]) == ("globex", "globex", "acme")
    assert "::warning::The pull request asks to destroy acme" in result.stdout
    assert [c.split("?")[0] for c in calls(repo.parent, "gh")] == [
        "api repos/acme/orchestra/actions/workflows/deploy.yml/runs",
        f'api repos/acme/orchestra/commits/{head}/pulls --jq [.[] | select(.merged_at != null)][0].body // ""',
    ]


def test_a_removed_tenant_the_pull_request_does_not_name_is_kept(merged: tuple[Path, str, str]) -> None:
    repo, base, head = merged
    result, found = affected(repo, head, base, "Adds initech.")
    assert result.returncode == 0, result.stderr
    assert (found["removed"], found["destroy"], found["unmatched"]) == ("globex", "", "")


def test_without_an_earlier_successful_deploy_every_tenant_is_planned(merged: tuple[Path, str, str]) -> None:
    repo, _, head = merged
    for last_success in ("", "c" * 40):  # none, or one that is not an ancestor
        result, found = affected(repo, head, last_success, "")
        assert result.returncode == 0, result.stderr
        assert "every prod tenant is planned" in result.stdout
        assert found["planned"] == "initech:canary acme:last hooli:last"
        assert found["removed"] == ""


# --- The report: one row per tenant, to the summary and to chat ------------------------------


def report(tmp_path: Path, results: dict[str, str], **needs: str) -> tuple[str, dict[str, str]]:
    result_dir = tmp_path / "results"
    result_dir.mkdir()
    for tenant, line in results.items():
        (result_dir / tenant).write_text(line)
    env = {
        "STACK": "prod",
        "PLANNED": "",
        "REMOVED": "",
        "DESTROY": "",
        "UNMATCHED": "",
        "RESULT_DIR": str(result_dir),
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    } | needs
    result = run_script(step("tenants.yml", "report", "Write the table of tenants")["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    return (tmp_path / "summary.md").read_text(), outputs(tmp_path / "out")


def test_the_report_has_a_row_per_tenant_and_a_result_per_tenant_for_chat(tmp_path: Path) -> None:
    summary, found = report(
        tmp_path,
        {
            "acme": "acme\tcanary\tdeployed\n",
            "globex": "globex\t1\tsmoke check failed\n",
            "initech": "initech\tremoved\tdestroyed\n",
        },
        PLANNED="acme:canary globex:1 hooli:last",
        REMOVED="initech umbrella",
        DESTROY="initech",
        UNMATCHED="wayne",
    )
    assert summary.splitlines()[2:] == [
        "| Tenant | Wave | Result |",
        "| --- | --- | --- |",
        "| `acme` | canary | deployed |",
        "| `globex` | 1 | smoke check failed |",
        "| `hooli` | last | not run |",
        "| `initech` | removed | destroyed |",
        "| `umbrella` | removed | kept: no destroy requested |",
        "| `wayne` | - | not removed: nothing destroyed |",
    ]
    assert found["results"] == "acme=success globex=failure hooli=failure initech=success"
    notify = TENANTS["notify"]
    assert notify["uses"] == "./.github/workflows/notify.yml"
    assert notify["with"]["results"] == "${{ needs.report.outputs.results }}"
    assert TENANTS["report"]["needs"] == ["affected", *WAVE_JOBS, "destroy"]


def test_a_deploy_that_affects_no_tenant_notifies_nothing(tmp_path: Path) -> None:
    summary, found = report(tmp_path, {})
    assert "No tenant affected." in summary
    assert found["results"] == ""
    assert TENANTS["notify"]["if"] == "always() && needs.report.outputs.results != ''"


def test_a_result_file_cannot_write_markdown_into_the_table(tmp_path: Path) -> None:
    summary, _ = report(tmp_path, {"acme": "acme\tcanary\t[x](https://evil.example) | `x`\n"}, PLANNED="acme:canary")
    assert summary.splitlines()[-1] == "| `acme` | canary | xhttpsevilexample  x |"


def test_the_stacks_of_new_tenants_are_started_empty_before_they_are_planned(tmp_path: Path) -> None:
    (tmp_path / "tenants").mkdir()
    env = fake_commands(tmp_path, pulumi='[ "$1" = stack ] && echo "in $(basename "$PWD")"; exit 0')
    start = step("tenants.yml", "affected", "Start the stacks of new tenants")
    result = run_script(start["run"], tmp_path, env | {"PLANNED": "initech:canary hooli:last"})
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path, "pulumi") == [
        "login --non-interactive",
        "stack select --create --non-interactive --stack initech",
        "stack select --create --non-interactive --stack hooli",
    ]
    assert result.stdout == "in tenants\nin tenants\n"
    # Nothing to deploy: no role is assumed and no stack is touched.
    for name in ("Assume the stack's deploy role (OIDC)", "Start the stacks of new tenants"):
        assert step("tenants.yml", "affected", name)["if"] == "steps.affected.outputs.planned != ''"
    # The wave jobs plan only after it.
    assert TENANTS["wave-1"]["needs"] == "affected"
