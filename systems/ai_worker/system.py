"""The AI worker system: one Worker linked to its D1, KV, Vectorize index, Workers AI and secrets."""

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_random as random

from components.cloudflare.account import CloudflareAccount
from components.cloudflare.binding import plain_text, rate_limit, secret_text, workers_ai
from components.cloudflare.d1 import D1Database, D1DatabaseArgs
from components.cloudflare.kv import KvNamespace, KvNamespaceArgs
from components.cloudflare.vectorize import VectorIndex, VectorIndexArgs
from components.cloudflare.worker import Worker, WorkerArgs
from systems.worker_common import HTTP_MODULE, MODULES_ROOT

_HERE = Path(__file__).parent
# The embedding model the worker uses (@cf/baai/bge-base-en-v1.5) returns 768 numbers per text.
EMBEDDING_DIMENSIONS = 768
COMPATIBILITY_DATE = "2026-04-01"


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
    login_requests_per_minute: int
    rate_limit_namespace_base: int
    """Rate-limit namespaces are account-wide integers; this stack uses `base` and `base + 1`."""


class AiWorker(pulumi.ComponentResource):
    url: pulumi.Output[str] | None
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
        knowledge = VectorIndex(
            f"{name}-knowledge",
            VectorIndexArgs(
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
                modules=[_HERE / "knowledge_base.json", HTTP_MODULE],
                modules_root=MODULES_ROOT,
                compatibility_date=COMPATIBILITY_DATE,
                bindings=[
                    database.binding("DB"),
                    sessions.binding("AUTH_KV"),
                    knowledge.binding("KNOWLEDGE_INDEX"),
                    workers_ai("AI"),
                    rate_limit(
                        "CHAT_RATE_LIMITER", str(args.rate_limit_namespace_base), args.chat_requests_per_minute, 60
                    ),
                    rate_limit(
                        "LOGIN_RATE_LIMITER",
                        str(args.rate_limit_namespace_base + 1),
                        args.login_requests_per_minute,
                        60,
                    ),
                    plain_text("ALLOWED_ORIGINS", args.allowed_origins),
                    plain_text("LOGIN_LINK_URL", args.login_link_url),
                    plain_text("EMAIL_FROM", args.email_from),
                    plain_text("EMAIL_API_URL", args.email_api_url),
                    secret_text("EMAIL_API_KEY", args.email_api_key),
                    secret_text("ADMIN_TOKEN", admin_token.result),
                ],
                # Reported at `/healthz`: the deployed content hash of every module.
                version_binding="VERSION",
            ),
            child,
        )
        self.url = worker.url
        self.admin_token = pulumi.Output.secret(admin_token.result)
        self.register_outputs({"url": self.url, "admin_token": self.admin_token})
