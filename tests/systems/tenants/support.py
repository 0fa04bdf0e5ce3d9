"""Planning tenant stacks offline: the tenant project, and its platform stack's exports as a
StackReference reads them."""

from pathlib import Path

from systems.tenants import platform
from systems.tenants.tenant_config import API_TOKEN_VARIABLE
from tests.stacks import ROOT
from tools.offline_plan import Plan, ReferencedStack, evaluate_project
from tools.offline_plan.project_config import placeholder

TENANTS = ROOT / "tenants"
DSN = "https://" + "5e" * 16 + "@o1.ingest.sentry.io/4500000000000001"


def platform_exports(stack: str, *, protect: bool, reports_errors: bool) -> ReferencedStack:
    """What a platform stack named `stack` exports for its tenants, as its own plan would."""
    outputs: dict[str, object] = {
        platform.REGISTRY_DATABASE: f"orchestra-tenants-multiagent-system-{stack}",
        platform.REGISTRY_DATABASE_ID: "5f1d3c2b-5a6e-4f70-8a9b-0c1d2e3f4a5b",
        platform.SHARED_RATE_LIMITER: f"orchestra-tenants-rate-limiter-{stack}",
        platform.SHARED_IMAGES_BUCKET: f"orchestra-tenants-images-{stack}",
        platform.ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
        platform.WORKERS_SUBDOMAIN: "example",
        platform.API_TOKEN: placeholder(f"{stack}:{platform.API_TOKEN}"),
        platform.IMAGE_API_URL: "https://api.ideogram.ai/v1/ideogram-v3/generate",
        platform.IMAGE_API_KEY: placeholder(f"{stack}:{platform.IMAGE_API_KEY}"),
        platform.IMAGE_MODEL: "ideogram-v3",
        platform.PROTECT_STATEFUL_RESOURCES: protect,
        platform.ENVIRONMENT: stack,
        # As the stack files set them: prod's canary, dev's all at once.
        platform.WORKER_CANARY_PERCENT: 10 if stack == "prod" else 100,
        platform.WORKER_CANARY_MINUTES: 5,
        platform.WORKER_LOG_SAMPLING_PERCENT: 25 if stack == "prod" else 100,
    }
    secrets = {platform.API_TOKEN, platform.IMAGE_API_KEY}
    if reports_errors:
        outputs[platform.ERROR_TRACKING_DSN] = DSN
        secrets.add(platform.ERROR_TRACKING_DSN)
    return ReferencedStack(outputs=outputs, secret_names=frozenset(secrets))


PLATFORMS = {
    "organization/orchestra/dev": platform_exports("dev", protect=False, reports_errors=False),
    "organization/orchestra/prod": platform_exports("prod", protect=True, reports_errors=True),
}


def plan_tenant(stack: str, references: dict[str, ReferencedStack] = PLATFORMS, tenants_dir: Path = TENANTS) -> Plan:
    """The tenant stack's plan, run as the fleet runs it: with the platform's token in the environment."""
    return evaluate_project(tenants_dir, stack, references, secret_environment=[API_TOKEN_VARIABLE])
