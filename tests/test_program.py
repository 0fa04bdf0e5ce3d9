"""The whole program, per shipped stack, as `pulumi preview` would evaluate it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.offline_plan import PLACEHOLDER_PREFIX, SECRET, Plan, evaluate_project

ROOT = Path(__file__).resolve().parent.parent

# Every resource type that holds data someone would miss. A new stateful type must be added
# here, and the tests below then prove the one protection rule covers it in prod.
STATEFUL_TYPES = {
    "aws:dynamodb/table:Table",
    "aws:secretsmanager/secret:Secret",
    "aws:ssm/parameter:Parameter",
    "cloudflare:index/d1Database:D1Database",
    "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
    "cloudflare:index/r2Bucket:R2Bucket",
    "pulumi-python:dynamic/cloudflare:VectorizeIndex",
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return evaluate_project(ROOT, request.param)


def test_stateful_resources_are_protected_in_prod_only(plan: Plan) -> None:
    stateful = [r for r in plan.resources if r.type in STATEFUL_TYPES]
    assert {r.type for r in stateful} >= STATEFUL_TYPES - {
        "aws:ssm/parameter:Parameter",
        "cloudflare:index/r2Bucket:R2Bucket",
    }
    expected = plan.stack == "prod"
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


def test_secret_config_never_appears_in_plain_text(plan: Plan) -> None:
    assert plan.unmarked_secrets == ()
    assert PLACEHOLDER_PREFIX not in plan.to_json()


def test_environments_differ_only_through_configuration(plan: Plan) -> None:
    function = plan.one("aws:lambda/function:Function", "orchestrator-discord").inputs
    table = plan.one("aws:dynamodb/table:Table", "orchestrator-runs").inputs
    expected = {"dev": (256, False), "prod": (512, True)}[plan.stack]
    assert (function["memorySize"], table["deletionProtectionEnabled"]) == expected


def test_bad_setting_stops_the_plan_with_one_line(tmp_path: Path) -> None:
    for entry in ("Pulumi.yaml", "__main__.py", "stack_config", "components", "systems", "instances"):
        source = ROOT / entry
        if source.is_dir():
            shutil.copytree(source, tmp_path / entry, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / entry)
    valid = (ROOT / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.broken.yaml").write_text(valid + "  orchestra:lambdaMemoryMb: 64\n")
    result = subprocess.run(
        [sys.executable, "-m", "tools.offline_plan", "--stack", "broken", "--project-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
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
