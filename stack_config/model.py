"""The typed model of one stack's configuration (the `orchestra:*` keys).

Every setting a stack can have is declared here, with its default, its limits
and what it is for. `Pulumi.yaml` declares the same keys for `pulumi config`;
a test keeps the two in step. dev and prod differ only through these values.
"""

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

EnvironmentKind = Literal["dev", "staging", "prod"]
"""Which kind of environment a stack is; an instance file names the kind whose stacks deploy it.
Not a GitHub deployment environment (`components.github.deployment_environment`)."""

StackName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
"""What the Pulumi CLI accepts as a stack's name."""

# The only values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


class StackConfig(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )

    environment: EnvironmentKind = Field(
        description=(
            "Which kind of environment this stack is (dev, staging or prod); "
            "tenant instances declare the one they belong to."
        ),
    )
    guarded_stacks: list[StackName] = Field(
        default=["prod"],
        description=(
            "The stacks holding data that matters (set once, in Pulumi.yaml): their stateful resources "
            "must be protected, the policy pack's production guards apply, and a reviewer approves each deploy."
        ),
    )
    protect_stateful_resources: bool = Field(
        default=True,
        description=(
            "Protect tables, secrets and other data from deletion: `protect` and `retain_on_delete` "
            "in Pulumi, deletion protection where the service has it. Only throwaway stacks turn it off; "
            "a guarded stack cannot."
        ),
    )
    log_retention_days: int = Field(
        default=14,
        description="Retention of every log group the stack declares, in days (a value CloudWatch accepts).",
    )
    lambda_memory_mb: int = Field(
        default=256, ge=128, le=10240, description="Memory of each Lambda function, in MB (128-10240)."
    )
    lambda_timeout_seconds: int = Field(
        default=10,
        ge=1,
        le=29,
        description="Timeout of each Lambda function, in seconds (1-29: API Gateway gives up after 30).",
    )
    lambda_architecture: Literal["arm64", "x86_64"] = Field(
        default="arm64", description="CPU architecture of the Lambda functions: arm64 or x86_64."
    )
    secret_store: Literal["secretsmanager", "ssm"] = Field(
        default="secretsmanager",
        description=(
            "Where runtime secrets live: secretsmanager (AWS Secrets Manager) "
            "or ssm (SSM Parameter Store SecureString)."
        ),
    )
    run_ttl_days: int = Field(
        default=90, ge=1, le=3650, description="Days after which a recorded run expires from the runs table."
    )
    api_rate_limit: int = Field(
        default=50, ge=1, le=10000, description="Steady requests per second the HTTP API accepts."
    )
    api_burst_limit: int = Field(
        default=100, ge=1, le=5000, description="Request burst the HTTP API accepts above the steady rate."
    )
    alarm_lambda_errors: int = Field(default=1, ge=1, description="Lambda errors in 5 minutes that raise an alarm.")
    alarm_api_5xx: int = Field(
        default=5, ge=1, alias="alarmApi5xx", description="API 5xx responses in 5 minutes that raise an alarm."
    )
    alarm_email: str = Field(
        default="",
        pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Email address subscribed to the alarm topic; empty for none.",
    )
    discord_application_id: str = Field(
        pattern=r"^[0-9]{17,20}$",
        description="The Discord application's id (a 17-20 digit snowflake).",
    )
    discord_public_key: SecretStr = Field(
        description="The Discord application's Ed25519 public key (64 hex characters).",
    )
    discord_bot_token: SecretStr = Field(
        description="The Discord bot token: registers the slash commands; the worker posts to channels with it.",
    )
    orchestrator_access_file: str = Field(
        default="",
        pattern=r"^$|^[A-Za-z0-9._/-]+\.ya?ml$",
        description=(
            "Access file (YAML, relative to the project) of the Discord guilds the orchestrator serves, "
            "their approver roles and repositories; empty for none, which refuses every command."
        ),
    )
    github_auth: Literal["app", "token"] = Field(
        default="app",
        description="How the worker authenticates to GitHub: app (a GitHub App) or token (a fine-grained token).",
    )
    github_app_id: str = Field(
        default="",
        pattern=r"^$|^[0-9]{1,12}$",
        validate_default=True,
        description="The GitHub App's id (digits); required with githubAuth app, empty with token.",
    )
    github_credential: SecretStr = Field(
        description="The GitHub App's private key (PEM), or with githubAuth token a fine-grained token.",
    )
    worker_timeout_seconds: int = Field(
        default=60,
        ge=10,
        le=900,
        description="Timeout of the orchestrator's queue worker, in seconds (10-900).",
    )
    queue_max_receive_count: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Attempts at a queued message before it moves to the dead-letter queue (1-100).",
    )
    alarm_queue_age_seconds: int = Field(
        default=900,
        ge=60,
        description="Age in seconds of the oldest queued message that raises an alarm.",
    )
    lambda_canary_percent: int = Field(
        default=0,
        ge=0,
        le=50,
        description=(
            "Share of requests (percent, 0-50) a new Lambda version serves while it bakes before taking all; "
            "0 moves it all at once once its pre-traffic checks pass."
        ),
    )
    # The bake runs inside `pulumi up`, on the deploy role's one-hour session: at most half of it.
    lambda_canary_minutes: int = Field(
        default=5,
        ge=1,
        le=30,
        description=(
            "How long a new Lambda version bakes at lambdaCanaryPercent while its alarms are watched (1-30 minutes)."
        ),
    )

    worker_canary_percent: int = Field(
        default=100,
        ge=1,
        le=100,
        description=(
            "Share of requests (percent, 1-100) a new worker version serves while its gate watches it before "
            "taking all; 100 deploys it at once."
        ),
    )
    # Like the Lambda bake, it runs inside `pulumi up`, which holds the stack's lock meanwhile.
    worker_canary_minutes: int = Field(
        default=5,
        ge=1,
        le=30,
        description=(
            "How long a new worker version serves workerCanaryPercent while its errors and /healthz are "
            "watched (1-30 minutes)."
        ),
    )

    # Workers Logs bills and keeps every invocation it samples: a busy stack may keep a share.
    worker_log_sampling_percent: int = Field(
        default=100,
        ge=1,
        le=100,
        description="Share of worker invocations (percent, 1-100) Workers Logs keeps; 100 keeps every one.",
    )

    cloudflare_account_id: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="The Cloudflare account's id (32 hex characters, dashboard → Workers & Pages).",
    )
    cloudflare_api_token: SecretStr = Field(
        description="Cloudflare API token with Workers, D1, KV, R2 and Vectorize edit rights.",
    )
    cloudflare_workers_subdomain: str = Field(
        default="",
        pattern=r"^$|^[a-z0-9-]{1,63}$",
        description="The account's workers.dev subdomain (without .workers.dev), for worker URLs; empty if unknown.",
    )
    ai_allowed_origins: str = Field(
        default="",
        pattern=r"^$|^https?://[A-Za-z0-9.-]+(:[0-9]+)?(,https?://[A-Za-z0-9.-]+(:[0-9]+)?)*$",
        description="Comma-separated browser origins allowed to call the AI worker; empty for none.",
    )
    ai_login_link_url: str = Field(
        pattern=r"^https://\S+$",
        description="HTTPS page the emailed sign-in link opens; the worker appends ?token=.",
    )
    ai_email_from: str = Field(
        min_length=3,
        description="Sender of the sign-in emails, e.g. Orchestra <login@example.com>.",
    )
    email_api_url: str = Field(
        default="https://api.resend.com/emails",
        pattern=r"^https://\S+$",
        description="HTTP email API the AI worker sends sign-in links through (Resend-compatible).",
    )
    email_api_key: SecretStr = Field(description="Key of the HTTP email API.")
    ai_chat_requests_per_minute: int = Field(
        default=20, ge=1, le=10000, description="Chat requests per minute one user may make."
    )
    ai_login_requests_per_minute: int = Field(
        default=5, ge=1, le=1000, description="Sign-in link requests per minute for one address, from any clients."
    )
    ai_login_client_requests_per_minute: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Sign-in links per minute from one client IP (an IPv6 client by its /64), for any addresses.",
    )
    image_api_url: str = Field(
        default="https://api.ideogram.ai/v1/ideogram-v3/generate",
        pattern=r"^https://\S+$",
        description="Image generation API the tenants' image-gen workers call (Ideogram-compatible).",
    )
    image_api_key: SecretStr = Field(description="Key of the image generation API, used by every tenant instance.")
    error_tracking_dsn: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Sentry DSN the Lambda handlers and workers report unhandled errors to "
            "(https://<key>@<host>/<project id>); empty for none, which reports nothing. Set it with --secret."
        ),
    )
    image_model: str = Field(
        default="ideogram-v3",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",
        description="Model name under which each instance file gives the image-gen worker's rate limits.",
    )
    delivery_file: str = Field(
        default="",
        pattern=r"^$|^[A-Za-z0-9._/-]+\.ya?ml$",
        description=(
            "Delivery file (YAML, relative to the project) of the GitHub repositories this stack manages; "
            "empty for none. One stack per GitHub owner and AWS account manages delivery."
        ),
    )
    rate_limit_namespace_base: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description=(
            "First of the account-wide rate-limit namespace ids this stack uses; "
            "stacks sharing an account need distinct ones."
        ),
    )

    @field_validator("log_retention_days")
    @classmethod
    def _retention_cloudwatch_accepts(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            raise ValueError(f"{days} is not a retention CloudWatch accepts; use one of {allowed}")
        return days

    @field_validator("github_app_id")
    @classmethod
    def _app_id_matches_github_auth(cls, app_id: str, info: ValidationInfo) -> str:
        auth = info.data.get("github_auth")
        if auth == "app" and not app_id:
            raise ValueError("required when githubAuth is app")
        if auth == "token" and app_id:
            raise ValueError("must be empty when githubAuth is token")
        return app_id

    @field_validator("error_tracking_dsn")
    @classmethod
    def _dsn_is_a_sentry_dsn(cls, value: SecretStr) -> SecretStr:
        dsn = value.get_secret_value()
        # The value is a secret: the message describes the form, never repeats it.
        if dsn and not re.fullmatch(r"https://[0-9a-f]{32}@[a-z0-9.-]+(:[0-9]{1,5})?/[0-9]+", dsn):
            raise ValueError("must be empty or a Sentry DSN, https://<32 hex key>@<host>/<project id>")
        return value

    @field_validator(
        "discord_public_key",
        "discord_bot_token",
        "cloudflare_api_token",
        "email_api_key",
        "image_api_key",
        "github_credential",
    )
    @classmethod
    def _secret_not_blank(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if not secret or secret.strip() != secret:
            raise ValueError("must be a non-empty value without surrounding whitespace")
        return value
