"""The orchestrator system: composes AWS building blocks and registers the Discord slash commands.

Two endpoints (``discord``, ``github``) verify, validate, record and enqueue; a ``worker`` fed by
the work queue does every call to GitHub and Discord, and is the only function linked to the
GitHub credentials and the bot token; ``health`` answers ``/healthz``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_random as random

from components.aws.function import Function, FunctionArgs, QueueSource, RolloutArgs
from components.aws.http_api import HttpApi, HttpApiArgs, Route, request_check
from components.aws.link import Link
from components.aws.monitoring import AlarmRule, Monitoring, MonitoringArgs
from components.aws.queue import Queue, QueueArgs
from components.aws.secret import Secret, SecretArgs, SecretStore
from components.aws.table import GlobalIndex, Table, TableArgs
from components.discord.application import DiscordApplication
from components.providers.lambda_rollout import NOW_PLACEHOLDER, PreTrafficCheck, TrafficStep

from .access_file import AccessFile
from .handlers import contract
from .handlers.commands import COMMANDS

_HANDLERS = Path(__file__).parent / "handlers"
# Each function ships only the libraries its handler imports (boto3 comes with the Lambda runtime);
# `make lock` writes each lock from the `.in` file beside it.
_REQUIREMENTS = Path(__file__).parent / "requirements"
_LOCKS = {
    "discord": _REQUIREMENTS / "discord.txt",
    "github": _REQUIREMENTS / "error_tracking.txt",
    "worker": _REQUIREMENTS / "worker.txt",
    "health": _REQUIREMENTS / "error_tracking.txt",
}
DISCORD_PATH = "/discord/interactions"
GITHUB_PATH = "/github/webhook"
HEALTH_PATH = "/healthz"
# Discord drops an interaction not answered within 3 s; the API's p99 nearing it is an incident.
API_LATENCY_ALARM_MS = 2500


@dataclass(frozen=True)
class OrchestratorArgs:
    discord_application_id: str
    discord_public_key: pulumi.Input[str]
    discord_bot_token: pulumi.Input[str]
    discord_bot_token_setting: str
    """The stack setting holding `discord_bot_token`, from which the slash commands' provider reads it."""
    protect_stateful_resources: bool
    secret_store: SecretStore
    log_retention_days: int
    memory_mb: int
    timeout_seconds: int
    architecture: Literal["arm64", "x86_64"]
    run_ttl_days: int
    api_rate_limit: int
    api_burst_limit: int
    alarm_lambda_errors: int
    alarm_api_5xx: int
    alarm_email: str
    """Empty for none."""
    access: AccessFile
    github_auth: Literal["app", "token"]
    github_app_id: str
    """Empty with a token."""
    github_credential: pulumi.Input[str]
    """The App's private key, or the token."""
    worker_timeout_seconds: int
    queue_max_receive_count: int
    alarm_queue_age_seconds: int
    canary_percent: int = 0
    """Share of requests a new version of each function serves while it bakes; 0: all at once."""
    canary_minutes: int = 5
    functions_boundary: pulumi.Input[str] | None = None
    """The permissions boundary every function's role carries (the stack's, from the bootstrap project)."""
    error_tracking_dsn: pulumi.Input[str] | None = None
    """The Sentry DSN every function reports its unhandled errors to, a secret; none reports nothing."""


class Orchestrator(pulumi.ComponentResource):
    api_url: pulumi.Output[str]
    discord_interactions_url: pulumi.Output[str]
    github_webhook_url: pulumi.Output[str]
    health_url: pulumi.Output[str]
    health_version: str
    """The version `/healthz` reports: its function's package hash."""
    github_webhook_secret: pulumi.Output[str]
    runs_table_name: pulumi.Output[str]
    alarm_topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: OrchestratorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:system:Orchestrator", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        protect = args.protect_stateful_resources

        runs = Table(
            f"{name}-runs",
            TableArgs(
                hash_key=contract.RUN_ID,
                attributes={contract.RUN_ID: "S", contract.RUN_MONTH: "S", contract.CREATED_AT: "S"},
                indexes=[
                    GlobalIndex(contract.RECENT_RUNS_INDEX, hash_key=contract.RUN_MONTH, range_key=contract.CREATED_AT)
                ],
                ttl_attribute=contract.EXPIRES_AT,
                protect=protect,
            ),
            child,
        )
        # Generated here and handed to the GitHub side as an output: no human ever sees or copies it.
        webhook_secret_value = random.RandomPassword(
            f"{name}-generated-webhook-secret", length=48, special=False, opts=child
        )

        def secret(secret_name: str, value: pulumi.Input[str], description: str) -> Secret:
            return Secret(
                f"{name}-{secret_name}",
                SecretArgs(value=value, description=description, store=args.secret_store, protect=protect),
                child,
            )

        webhook_secret = secret(
            "webhook-secret", webhook_secret_value.result, "HMAC key GitHub signs webhook deliveries with"
        )
        discord_public_key = secret(
            "discord-public-key", args.discord_public_key, "Ed25519 public key Discord interactions are verified with"
        )
        discord_bot_token = secret(
            "discord-bot-token", args.discord_bot_token, "Discord bot token the worker posts with"
        )
        github_credentials = secret(
            "github-credentials",
            _github_credentials(args),
            "GitHub App id and private key, or token, the worker calls GitHub with",
        )
        # A message is hidden while the worker handles it; AWS advises six times the worker's timeout.
        work = Queue(
            f"{name}-work",
            QueueArgs(
                visibility_timeout_seconds=6 * args.worker_timeout_seconds,
                max_receive_count=args.queue_max_receive_count,
            ),
            child,
        )
        access = args.access.to_environment()
        # Every function may read the DSN, and is told the stack it reports as.
        tracking_links: list[Link] = []
        tracking_environment: dict[str, str] = {}
        if args.error_tracking_dsn is not None:
            dsn = secret("error-tracking-dsn", args.error_tracking_dsn, "Sentry DSN the functions report errors to")
            tracking_links = [dsn.link_read(contract.ERROR_TRACKING_DSN_SECRET_ARN)]
            tracking_environment = {contract.ERROR_TRACKING_ENVIRONMENT: pulumi.get_stack()}
        steps = [TrafficStep(args.canary_percent / 100, args.canary_minutes * 60)] if args.canary_percent else []

        def function(
            handler_name: str,
            links: Sequence[Link],
            handler: str,
            environment: dict[str, str],
            check: PreTrafficCheck,
            timeout_seconds: int | None = None,
            queue_source: QueueSource | None = None,
        ) -> Function:
            return Function(
                f"{name}-{handler_name}",
                FunctionArgs(
                    package_dir=_HANDLERS,
                    handler=handler,
                    requirements=_LOCKS.get(handler_name),
                    architecture=args.architecture,
                    memory_mb=args.memory_mb,
                    timeout_seconds=timeout_seconds or args.timeout_seconds,
                    log_retention_days=args.log_retention_days,
                    links=[*links, *tracking_links],
                    environment={contract.RUN_TTL_DAYS: str(args.run_ttl_days), **tracking_environment, **environment},
                    queue_source=queue_source,
                    permissions_boundary=args.functions_boundary,
                    rollout=RolloutArgs(steps=steps, checks=[check], errors=args.alarm_lambda_errors),
                ),
                child,
            )

        discord = function(
            "discord",
            [
                runs.link_read_write(contract.RUNS_TABLE_NAME),
                discord_public_key.link_read(contract.DISCORD_PUBLIC_KEY_SECRET_ARN),
                work.link_send(contract.WORK_QUEUE_URL),
            ],
            "handlers.discord_interactions.handler",
            {contract.ORCHESTRATOR_ACCESS: access},
            # A well-formed, fresh, wrong signature: refusing it proves the version reads the public key.
            request_check(
                "forged-interaction",
                "POST",
                DISCORD_PATH,
                401,
                headers={"x-signature-ed25519": "0" * 128, "x-signature-timestamp": NOW_PLACEHOLDER},
                body='{"type":1}',
                expect_body={"error": "invalid request signature"},
            ),
        )
        github = function(
            "github",
            [
                runs.link_read_write(contract.RUNS_TABLE_NAME),
                webhook_secret.link_read(contract.GITHUB_WEBHOOK_SECRET_ARN),
                work.link_send(contract.WORK_QUEUE_URL),
            ],
            "handlers.github_webhook.handler",
            {contract.ORCHESTRATOR_ACCESS: access},
            # Refusing a wrong HMAC proves the version reads the webhook secret.
            request_check(
                "forged-delivery",
                "POST",
                GITHUB_PATH,
                401,
                headers={"x-github-event": "ping", "x-hub-signature-256": "sha256=" + "0" * 64},
                body="{}",
                expect_body={"error": "invalid request signature"},
            ),
        )
        worker = function(
            "worker",
            [
                runs.link_read_write(contract.RUNS_TABLE_NAME),
                github_credentials.link_read(contract.GITHUB_CREDENTIALS_SECRET_ARN),
                discord_bot_token.link_read(contract.DISCORD_BOT_TOKEN_SECRET_ARN),
            ],
            "handlers.worker.handler",
            {
                contract.ORCHESTRATOR_ACCESS: access,
                contract.DISCORD_APPLICATION_ID: args.discord_application_id,
                contract.DISCORD_API_URL: contract.PUBLIC_DISCORD_API_URL,
                contract.GITHUB_API_URL: contract.PUBLIC_GITHUB_API_URL,
                # A claim on an effect lasts as long as the invocation that took it may run.
                contract.EFFECT_LEASE_SECONDS: str(args.worker_timeout_seconds),
                # One call to GitHub or Discord, retries included, leaves half the invocation to record it.
                contract.CALL_DEADLINE_SECONDS: str(args.worker_timeout_seconds // 2),
            },
            # An empty batch: the version imports and answers in the shape the queue's poller reads.
            PreTrafficCheck("empty-batch", '{"Records": []}', {"batchItemFailures": []}),
            timeout_seconds=args.worker_timeout_seconds,
            queue_source=QueueSource(work, batch_size=5),
        )
        health = function(
            "health",
            [runs.link_read(contract.RUNS_TABLE_NAME)],
            "handlers.health.handler",
            {},
            request_check("healthz", "GET", HEALTH_PATH, 200, expect_body={"status": "ok"}),
        )

        discord_route = Route("POST", DISCORD_PATH, discord)
        github_route = Route("POST", GITHUB_PATH, github)
        health_route = Route("ANY", HEALTH_PATH, health)
        api = HttpApi(
            f"{name}-api",
            HttpApiArgs(
                routes=[discord_route, github_route, health_route],
                access_log_retention_days=args.log_retention_days,
                rate_limit=args.api_rate_limit,
                burst_limit=args.api_burst_limit,
            ),
            child,
        )

        monitoring = Monitoring(
            f"{name}-monitoring",
            MonitoringArgs(
                # The health check's failures reach its callers as 5xx, which api-5xx counts.
                functions={"discord": discord, "github": github, "worker": worker},
                function_errors=args.alarm_lambda_errors,
                alarms=[
                    AlarmRule("runs-read-throttles", runs.metric_read_throttles(), 1),
                    AlarmRule("runs-write-throttles", runs.metric_write_throttles(), 1),
                    AlarmRule("api-5xx", api.metric_5xx(), args.alarm_api_5xx),
                    AlarmRule("api-latency", api.metric_latency(), API_LATENCY_ALARM_MS),
                    # Any dead letter is a message the worker gave up on: someone should look.
                    AlarmRule("dead-letters", work.metric_dead_letters(), 1),
                    AlarmRule("work-age", work.metric_oldest_message_age(), args.alarm_queue_age_seconds),
                ],
                dashboard_metrics=[
                    api.metric_requests(),
                    api.metric_latency(),
                    api.metric_integration_latency(),
                    runs.metric_consumed_reads(),
                    runs.metric_consumed_writes(),
                    work.metric_depth(),
                ],
                notification_email=args.alarm_email or None,
            ),
            child,
        )

        DiscordApplication(args.discord_application_id, args.discord_bot_token_setting).register_commands(
            f"{name}-slash-commands", COMMANDS, child
        )

        self.api_url = api.url
        self.discord_interactions_url = api.url_of(discord_route)
        self.github_webhook_url = api.url_of(github_route)
        self.health_url = api.url_of(health_route)
        self.health_version = health.version
        self.github_webhook_secret = pulumi.Output.secret(webhook_secret_value.result)
        self.runs_table_name = runs.name
        self.alarm_topic_arn = monitoring.topic.arn
        self.register_outputs(
            {
                "api_url": self.api_url,
                "discord_interactions_url": self.discord_interactions_url,
                "github_webhook_url": self.github_webhook_url,
                "health_url": self.health_url,
                "github_webhook_secret": self.github_webhook_secret,
                "runs_table_name": self.runs_table_name,
                "alarm_topic_arn": self.alarm_topic_arn,
            }
        )


def _github_credentials(args: OrchestratorArgs) -> pulumi.Output[str]:
    """The JSON the worker's GitHub client reads, secret like the credential in it."""
    if args.github_auth == "app":
        return pulumi.Output.json_dumps({"app_id": args.github_app_id, "private_key": args.github_credential})
    return pulumi.Output.json_dumps({"token": args.github_credential})
