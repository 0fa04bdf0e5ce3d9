"""The whole program, per shipped stack, as `pulumi preview` would evaluate it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.stateful import STATEFUL_TYPES
from tests.project_copy import copy_project
from tests.stacks import is_guarded, setting
from tools.offline_plan import (
    PLACEHOLDER_PREFIX,
    SECRET,
    Plan,
    check_policies,
    compose_config,
    load_project,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def plan(shipped_plan: Plan) -> Plan:
    return shipped_plan


def test_stateful_resources_are_protected_in_the_stacks_that_say_so(plan: Plan) -> None:
    stateful = [r for r in plan.resources if r.type in STATEFUL_TYPES]
    assert {r.type for r in stateful} >= STATEFUL_TYPES - {
        "aws:ssm/parameter:Parameter",
        "cloudflare:index/r2Bucket:R2Bucket",
    }
    expected = setting(plan.stack, "protectStatefulResources")
    assert expected is True or not is_guarded(plan.stack)
    assert {(r.name, r.protect, r.retain_on_delete) for r in stateful} == {
        (r.name, expected, expected) for r in stateful
    }


def test_nothing_else_is_protected(plan: Plan) -> None:
    assert [r.name for r in plan.resources if r.protect and r.type not in STATEFUL_TYPES] == []


def test_outputs_a_human_needs(plan: Plan) -> None:
    assert plan.outputs["githubWebhookSecret"] == SECRET
    assert plan.outputs["discordInteractionsUrl"].endswith("/discord/interactions")
    assert plan.outputs["githubWebhookUrl"].endswith("/github/webhook")
    assert plan.outputs["orchestratorHealthUrl"].endswith("/healthz")
    assert plan.outputs["runsTableName"] == f"orchestra-orchestrator-runs-{plan.stack}"


def test_every_service_with_a_url_has_a_health_url(plan: Plan) -> None:
    # The tenants' services are their own stacks' (tests/systems/tenants/test_tenant_stack.py).
    api = plan.outputs["discordInteractionsUrl"].removesuffix("/discord/interactions")
    assert plan.outputs["healthUrls"] == {
        "orchestrator": f"{api}/healthz",
        "ai-worker": f"{plan.outputs['aiWorkerUrl']}/healthz",
    }
    assert all(url.startswith("https://") for url in plan.outputs["healthUrls"].values())


def test_secret_config_never_appears_in_plain_text(plan: Plan) -> None:
    assert plan.unmarked_secrets == ()
    assert PLACEHOLDER_PREFIX not in plan.to_json()


def test_environments_differ_only_through_configuration(plan: Plan) -> None:
    function = plan.one("aws:lambda/function:Function", "orchestrator-discord").inputs
    table = plan.one("aws:dynamodb/table:Table", "orchestrator-runs").inputs
    expected = (setting(plan.stack, "lambdaMemoryMb"), setting(plan.stack, "protectStatefulResources"))
    assert (function["memorySize"], table["deletionProtectionEnabled"]) == expected


def test_the_policy_pack_finds_no_violation(plan: Plan) -> None:
    assert check_policies(plan, compose_config(load_project(ROOT), ROOT, plan.stack)) == []


def offline_plan(project: Path, stack: str, *, code: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The command for `project`'s stack, run with the code (tools, policy pack) of `code`."""
    return subprocess.run(
        [sys.executable, "-m", "tools.offline_plan", "--stack", stack, "--project-dir", str(project)],
        cwd=code,
        capture_output=True,
        text=True,
        check=False,
    )


def plan_variant(tmp_path: Path, base: str, extra_settings: str) -> subprocess.CompletedProcess[str]:
    """`python -m tools.offline_plan` for a copy of the project whose stack `variant` is `base` plus settings."""
    project = copy_project(tmp_path / "orchestra")
    (project / "Pulumi.variant.yaml").write_text((ROOT / f"Pulumi.{base}.yaml").read_text() + extra_settings)
    return offline_plan(project, "variant")


def test_a_mandatory_policy_violation_fails_the_plan_and_names_each_resource(tmp_path: Path) -> None:
    # A program that lost its protection rule: the policy pack, run over the plan, still catches it.
    project = copy_project(tmp_path / "orchestra")
    rule = project / "components" / "stateful.py"
    rule.write_text(rule.read_text().replace("protect=protect, retain_on_delete=protect", "protect=False"))
    result = offline_plan(project, "prod", code=project)
    assert result.returncode == 3, result.stderr
    report = result.stderr.split("Policies: ", 1)[1].splitlines()
    stateful = report[1:]
    assert report[0] == f"{len(stateful)} mandatory, 0 advisory violations"
    assert len(stateful) >= len(STATEFUL_TYPES) - 2
    assert all(line.startswith("  [mandatory] stateful-resources-protected-in-prod: ") for line in stateful)
    assert (
        "  [mandatory] stateful-resources-protected-in-prod: orchestrator-runs (aws:dynamodb/table:Table): "
        "holds data and is not protected in production: "
        "declare it through components.stateful.stateful_options with protect=True"
    ) in stateful


def test_a_guarded_stack_cannot_turn_its_protection_off(tmp_path: Path) -> None:
    result = plan_variant(
        tmp_path, "prod", "  orchestra:protectStatefulResources: false\n  orchestra:guardedStacks: [variant]\n"
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "invalid stack configuration: orchestra:protectStatefulResources: must be true in variant, "
        "a guarded stack (orchestra:guardedStacks)\n"
    )


def test_bad_setting_stops_the_plan_with_one_line(tmp_path: Path) -> None:
    result = plan_variant(tmp_path, "dev", "  orchestra:lambdaMemoryMb: 64\n")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "invalid stack configuration: orchestra:lambdaMemoryMb: "
        "Input should be greater than or equal to 128 (got '64')\n"
    )


def test_the_orchestrator_serves_the_stacks_access_file(plan: Plan) -> None:
    worker = plan.one("aws:lambda/function:Function", "orchestrator-worker").inputs
    access = json.loads(worker["environment"]["variables"]["ORCHESTRATOR_ACCESS"])
    expected = yaml.safe_load((ROOT / f"orchestrator-access.{plan.stack}.yaml").read_text())
    assert [guild["id"] for guild in access["guilds"]] == [guild["id"] for guild in expected["guilds"]]
    assert (
        plan.one("aws:secretsmanager/secretVersion:SecretVersion", "orchestrator-github-credentials-value").inputs[
            "secretString"
        ]
        == SECRET
    )


def test_every_function_publishes_and_moves_its_alias_by_the_stacks_rollout_settings(plan: Plan) -> None:
    percent, minutes = setting(plan.stack, "lambdaCanaryPercent"), setting(plan.stack, "lambdaCanaryMinutes")
    assert isinstance(percent, int) and isinstance(minutes, int)
    assert (percent, minutes) == ((10, 5) if plan.stack == "prod" else (0, 5))
    steps = [{"weight": percent / 100, "bake_seconds": minutes * 60}] if percent else []
    functions = plan.of_type("aws:lambda/function:Function")
    assert len(functions) == 4
    for function in functions:
        assert function.inputs["publish"] is True, function.name
        rollout = plan.one("pulumi-python:dynamic/aws:LambdaRollout", f"{function.name}-live").inputs
        assert (rollout["function_name"], rollout["alias_name"]) == (function.inputs["name"], "live")
        assert rollout["version"] == "1"
        assert rollout["steps"] == steps, function.name
        gates = [f"orchestra-{function.name}-gate-{kind}-{plan.stack}" for kind in ("errors", "throttles", "duration")]
        assert rollout["alarm_names"] == gates
