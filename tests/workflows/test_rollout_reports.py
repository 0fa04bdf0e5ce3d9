"""A version a rollout's gate rolled back is named, with its failing figure, in the apply job's
summary and in the chat message, and a version it promoted, with what it served, in the summary:
the workflows' own scripts, run as GitHub runs them."""

import json
import shutil
import traceback
from pathlib import Path

from components.providers.provider import ProviderError

from .test_workflows import ROOT, fake_curl, notify, run_script, step

__all__ = ["fake_curl"]  # the fixture, used by name below

WORKER_ROLLBACK = (
    "worker orchestra-ai-worker-prod: version 0a1b-new rolled back to 0a1b-old, all traffic: "
    "20 errors in 20 requests (100.0%) within 10 s, above the 2.0% allowed"
)


def up_log(*messages: str) -> str:
    """`pulumi up`'s output for failed rollouts: each provider's traceback after `error:`."""
    blocks = []
    for message in messages:
        try:
            raise ProviderError(message)
        except ProviderError:
            details = traceback.format_exc()
        blocks.append("    error: " + details.replace("\n", "\n    "))
    return "Diagnostics:\n" + "\n".join(blocks) + "\nResources:\n    41 unchanged\n"


def report(tmp_path: Path, stack: str, log: str, step_name: str = "Report the automatic rollbacks") -> tuple[str, Path]:
    """Runs one of the apply job's report steps over `log`; returns the summary and the notification's folder."""
    job = tmp_path / f"{stack}-job"
    (job / "up").mkdir(parents=True)
    (job / "up" / "up.log").write_text(log)
    for name in (".venv", "tools", "components"):
        (job / name).symlink_to(ROOT / name)
    summary = job / "summary.md"
    script = step("pulumi-up.yml", "apply", step_name)["run"]
    result = run_script(script, job, {"STACK": stack, "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(job)})
    assert result.returncode == 0, result.stderr
    return (summary.read_text() if summary.exists() else ""), job / "rollout-failures"


def test_the_apply_job_names_each_rollback_with_its_figure(tmp_path: Path) -> None:
    summary, kept = report(tmp_path, "prod", up_log(WORKER_ROLLBACK, WORKER_ROLLBACK, LAMBDA_ROLLBACK))
    assert summary.startswith("## `prod` rolled a version back automatically\n\n")
    assert f"- {WORKER_ROLLBACK}\n" in summary and summary.count(WORKER_ROLLBACK) == 1
    assert f"- {LAMBDA_ROLLBACK}\n" in summary
    assert (kept / "prod").read_text() == WORKER_ROLLBACK + "\n" + LAMBDA_ROLLBACK + "\n"


def test_a_failure_with_no_rollback_leaves_nothing_to_report(tmp_path: Path) -> None:
    summary, kept = report(tmp_path, "prod", up_log("Cloudflare refused the deployment (HTTP 400)"))
    assert (summary, kept.exists()) == ("", False)


def test_the_chat_message_carries_the_figure_and_no_mention(tmp_path: Path, fake_curl: Path) -> None:
    _, kept = report(
        tmp_path, "prod", up_log(WORKER_ROLLBACK, "f version 2 rolled back to 1 at 10% of traffic: <!here> @everyone")
    )
    (tmp_path / "rollbacks").mkdir()
    shutil.copy(kept / "prod", tmp_path / "rollbacks" / "prod")
    sent = notify(
        tmp_path,
        fake_curl,
        "https://hooks.slack.com/services/T/B/X",
        "prod=failure",
        ROLLBACKS_DIR=str(tmp_path / "rollbacks"),
    )
    assert sent.returncode == 0, sent.stderr
    lines = json.loads(fake_curl.with_suffix(".body").read_text())["text"].splitlines()
    start = lines.index("Rolled back automatically:")
    assert lines[start + 1] == f"prod: {WORKER_ROLLBACK}"
    assert lines[start + 2] == "prod: f version 2 rolled back to 1 at 10% of traffic: !here everyone"


def test_the_chat_message_stays_within_discord_s_limit(tmp_path: Path, fake_curl: Path) -> None:
    (tmp_path / "rollbacks").mkdir()
    for stack in ("dev", "prod", "staging"):
        (tmp_path / "rollbacks" / stack).write_text((WORKER_ROLLBACK * 3 + "\n") * 5)
    sent = notify(
        tmp_path,
        fake_curl,
        "https://discord.com/api/webhooks/1/x",
        "prod=failure",
        ROLLBACKS_DIR=str(tmp_path / "rollbacks"),
    )
    assert sent.returncode == 0, sent.stderr
    assert len(json.loads(fake_curl.with_suffix(".body").read_text())["content"]) <= 2000


def test_without_rollbacks_the_message_is_as_before(tmp_path: Path, fake_curl: Path) -> None:
    sent = notify(
        tmp_path,
        fake_curl,
        "https://hooks.slack.com/services/T/B/X",
        "prod=success",
        ROLLBACKS_DIR=str(tmp_path / "none"),
    )
    assert sent.returncode == 0, sent.stderr
    assert "Rolled back" not in json.loads(fake_curl.with_suffix(".body").read_text())["text"]


PROMOTED = (
    "worker orchestra-ai-worker-prod: version 0a1b-new promoted after 10% for 300 s: "
    "6000 requests, 3 errors (0.1%), p99 wall time 41 ms"
)


LAMBDA_PROMOTED = (
    "function orchestra-orchestrator-discord-prod: version 8 promoted after 10% for 300 s: "
    "48 requests, 0 errors (0.0%), p99 duration 340 ms (as CloudWatch had them at the promotion)"
)
LAMBDA_ROLLBACK = (
    "orchestra-orchestrator-discord-prod version 8 rolled back to 7 at 10% of traffic: "
    "orchestra-orchestrator-discord-gate-errors-prod: Threshold Crossed; what it served in that step: "
    "12 requests, 12 errors (100.0%), p99 duration 20 ms (as CloudWatch had them at the rollback)"
)


def test_a_successful_apply_lists_what_each_promoted_version_served(tmp_path: Path) -> None:
    log = (
        f"Updating (prod):\n    info: {PROMOTED}\n    info: {LAMBDA_PROMOTED}\n"
        f"Diagnostics:\n  pulumi-python:dynamic/cloudflare:WorkerRollout:\n    info: {PROMOTED}\n"
        f"  pulumi-python:dynamic/aws:LambdaRollout:\n    info: {LAMBDA_PROMOTED}\n"
    )
    summary, _ = report(tmp_path, "prod", log, "Report the rollouts")
    assert summary == f"## `prod`: versions promoted by their gates\n\n- {PROMOTED}\n- {LAMBDA_PROMOTED}\n"
    nothing, _ = report(tmp_path / "none", "prod", "Resources:\n    42 unchanged\n", "Report the rollouts")
    assert nothing == ""
