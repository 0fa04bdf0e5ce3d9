"""A tenant stack's secrets manager in CI: no stack file is committed for it, so every job that runs
the CLI on one takes the manager from the stack's state, and the salt a plan was encrypted with
goes with the plan to the job that applies it."""

from pathlib import Path

from tests.workflows.test_workflows import ALL, SHA, calls, fake_commands, pulumi_commands, run_script, step

FALLBACK = {"PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER": "true"}
PLAN, APPLY = ("plan", "Save the tenant's plan"), ("apply", "Apply the approved plan")
SALT = "encryptionsalt: v1:c2FsdA==:v1:abc:def\n"
# A passphrase CLI: a preview writes the stack file when there is none; an apply without the
# plan's salt could not decrypt the plan's secrets.
FAKE_PULUMI = f"""
case "$1 $2" in
  "stack output") echo 'cf-t0ken' ;;
  "preview --stack")
    [ -f "Pulumi.$3.yaml" ] || printf '%s' '{SALT}' > "Pulumi.$3.yaml"
    while [ $# -gt 0 ]; do [ "$1" = --save-plan ] && echo '{{}}' > "$2"; shift; done ;;
  "up --stack")
    if [ "$(cat "Pulumi.$3.yaml" 2>/dev/null)" != "{SALT.strip()}" ]; then
      echo "error: failed to decrypt the plan: incorrect passphrase" >&2; exit 255
    fi ;;
esac
exit 0"""
FAKE_CLOUD_PULUMI = """[ "$1 $2" = "stack output" ] && echo 'cf-t0ken'
exit 0"""


def tenant_workflows() -> set[str]:
    return {
        name
        for name, workflow in ALL.items()
        for job in workflow["jobs"].values()
        for s in job.get("steps", [])
        if '--stack "$TENANT"' in s.get("run", "") or "tools.fleet" in s.get("run", "")
    }


def test_every_workflow_running_a_tenant_stack_falls_back_to_the_states_secrets_manager() -> None:
    names = tenant_workflows()
    assert names >= {"tenant-wave.yml", "tenants.yml", "drift.yml"}
    assert {name: ALL[name].get("env") for name in names} == dict.fromkeys(names, FALLBACK)


def test_the_plan_takes_its_stack_file_to_the_apply(tmp_path: Path) -> None:
    plan_dir, apply_dir = tmp_path / "plan-job", tmp_path / "apply-job"
    env = {"STACK": "prod", "TENANT": "acme", "COMMIT": SHA, "MESSAGE": "Deploy"}
    for job in (plan_dir, apply_dir):
        (job / "tenants").mkdir(parents=True)
    planned = run_script(
        step("tenant-wave.yml", *PLAN)["run"],
        plan_dir,
        fake_commands(plan_dir, pulumi=FAKE_PULUMI) | env | {"GITHUB_STEP_SUMMARY": str(plan_dir / "summary.md")},
    )
    assert planned.returncode == 0, planned.stderr
    kept = step("tenant-wave.yml", "plan", "Keep the plan for the apply job")["with"]["path"].splitlines()
    assert kept == ["${{ runner.temp }}/plan/plan.json", "${{ runner.temp }}/plan/stack.yaml"]
    # The artifact, as the apply job downloads it into its own runner.temp.
    (apply_dir / "plan").mkdir()
    for name in ("plan.json", "stack.yaml"):
        (apply_dir / "plan" / name).write_text((plan_dir / "plan" / name).read_text())
    applied = run_script(
        step("tenant-wave.yml", *APPLY)["run"], apply_dir, fake_commands(apply_dir, pulumi=FAKE_PULUMI) | env
    )
    assert applied.returncode == 0, applied.stderr
    assert [c.split()[0] for c in calls(apply_dir, "pulumi")] == ["login", "stack", "up"]


def test_an_apply_without_a_stack_file_in_the_plan_runs_as_before(tmp_path: Path) -> None:
    # Pulumi Cloud's own secrets manager writes no salt: the plan has no stack file to take along.
    (tmp_path / "tenants").mkdir()
    (tmp_path / "plan").mkdir()
    (tmp_path / "plan" / "plan.json").write_text("{}")
    script = step("tenant-wave.yml", *APPLY)["run"]
    [up] = [c for c in pulumi_commands(script) if c.startswith("pulumi up")]
    env = fake_commands(tmp_path, pulumi=FAKE_CLOUD_PULUMI) | {"STACK": "prod", "TENANT": "acme"}
    result = run_script(script, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "tenants" / "Pulumi.acme.yaml").exists() and "--plan" in up
