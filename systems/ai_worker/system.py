"""The AI worker system: one Worker linked to its D1, KV, Vectorize index, Workers AI and secrets."""

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_random as random

from components.cloudflare.account import CloudflareAccount
from components.cloudflare.binding import Binding, RateLimitPeriod, plain_text, rate_limit, secret_text, workers_ai
from components.cloudflare.d1 import D1Database, D1DatabaseArgs
from components.cloudflare.kv import KvNamespace, KvNamespaceArgs
from components.cloudflare.vectorize import VectorizeIndex, VectorizeIndexArgs
from components.cloudflare.worker import Worker, WorkerArgs, WorkerRolloutSettings
from systems.worker_common import COMPATIBILITY_DATE, COMPATIBILITY_FLAGS, MODULES_ROOT, ErrorTracking

_HERE = Path(__file__).parent
# The embedding model the worker uses (@cf/baai/bge-base-en-v1.5) returns 768 numbers per text.
EMBEDDING_DIMENSIONS = 768
# Every limiter's period; the worker reads it from a binding for its Retry-After.
RATE_LIMIT_PERIOD_SECONDS: RateLimitPeriod = 60
# How long the worker waits for the email API before answering 504.
UPSTREAM_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class AiWorkerArgs:
    account: CloudflareAccount
    protect_stateful_resources: bool
    allowed_origins: str
    """Comma-separated origins that may call the worker from a browser."""
    login_link_url: str
    """Page the emailed sign-in link opens; `?token=` is appended."""
    email_from: str
    email_api_url: str
    email_api_key: pulumi.Input[str]
    chat_requests_per_minute: int
    """Per user."""
    login_requests_per_minute: int
    """Sign-in links per address, from any number of clients."""
    login_client_requests_per_minute: int
    """Sign-in links per client IP, to any number of addresses."""
    rate_limit_namespace_base: int
    """Rate-limit namespaces are account-wide integers; this stack uses `base` to `base + 2`."""
    error_tracking: ErrorTracking | None = None
    """Where unhandled errors are reported; none reports nothing."""
    rollout: WorkerRolloutSettings = field(default_factory=WorkerRolloutSettings)
    """The canary each new version of the worker goes through; by default none."""
    log_sampling_rate: float = 1.0
    """The share of the worker's invocations Workers Logs keeps (0-1]; by default every one."""


class AiWorker(pulumi.ComponentResource):
    url: pulumi.Output[str] | None
    version: str
    """The version `/healthz` reports: the uploaded modules' hash."""
    admin_token: pulumi.Output[str]

    def __init__(self, name: str, args: AiWorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:system:AiWorker", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        protect = args.protect_stateful_resources

        database = D1Database(
            f"{name}-db",
            D1DatabaseArgs(account=args.account, migrations_dir=_HERE / "migrations", protect=protect),
            child,
        )
        sessions = KvNamespace(f"{name}-auth", KvNamespaceArgs(account=args.account, protect=protect), child)
        knowledge = VectorizeIndex(
            f"{name}-knowledge",
            VectorizeIndexArgs(
                account=args.account,
                dimensions=EMBEDDING_DIMENSIONS,
                description="Knowledge base of the AI worker",
                protect=protect,
            ),
            child,
        )
        # Generated, never typed: `/seed` is called by whoever can read this stack's secret outputs.
        admin_token = random.RandomPassword(f"{name}-admin-token", length=48, special=False, opts=child)

        worker = Worker(
            name,
            WorkerArgs(
                account=args.account,
                main_module=_HERE / "worker.js",
                modules=[_HERE / "knowledge_base.json"],
                modules_root=MODULES_ROOT,
                bundle=True,
                compatibility_date=COMPATIBILITY_DATE,
                compatibility_flags=COMPATIBILITY_FLAGS,
                bindings=[
                    database.binding("DB"),
                    sessions.binding("AUTH_KV"),
                    knowledge.binding("KNOWLEDGE_INDEX"),
                    workers_ai("AI"),
                    *_rate_limits(args),
                    plain_text("RATE_LIMIT_PERIOD_SECONDS", str(RATE_LIMIT_PERIOD_SECONDS)),
                    plain_text("UPSTREAM_TIMEOUT_MS", str(UPSTREAM_TIMEOUT_SECONDS * 1000)),
                    plain_text("ALLOWED_ORIGINS", args.allowed_origins),
                    plain_text("LOGIN_LINK_URL", args.login_link_url),
                    plain_text("EMAIL_FROM", args.email_from),
                    plain_text("EMAIL_API_URL", args.email_api_url),
                    secret_text("EMAIL_API_KEY", args.email_api_key),
                    secret_text("ADMIN_TOKEN", admin_token.result),
                    *(args.error_tracking.bindings() if args.error_tracking else []),
                ],
                # Reported at `/healthz`: the deployed content hash of every module.
                version_binding="VERSION",
                rollout=args.rollout,
                log_sampling_rate=args.log_sampling_rate,
            ),
            child,
        )
        self.url = worker.url
        self.version = worker.version
        self.admin_token = pulumi.Output.secret(admin_token.result)
        self.register_outputs({"url": self.url, "admin_token": self.admin_token})


def _rate_limits(args: AiWorkerArgs) -> list[Binding]:
    limits = {
        "CHAT_RATE_LIMITER": args.chat_requests_per_minute,
        "LOGIN_ADDRESS_RATE_LIMITER": args.login_requests_per_minute,
        "LOGIN_CLIENT_RATE_LIMITER": args.login_client_requests_per_minute,
    }
    return [
        rate_limit(name, str(args.rate_limit_namespace_base + offset), limit, RATE_LIMIT_PERIOD_SECONDS)
        for offset, (name, limit) in enumerate(limits.items())
    ]
