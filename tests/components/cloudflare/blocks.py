"""What the building-block tests share: the account every block needs, and checks on a plan."""

from components.cloudflare.account import CloudflareAccount, CloudflareAccountArgs
from tools.offline_plan import Plan, PlannedResource

from .support import ACCOUNT_ID as ACCOUNT_ID
from .support import SETTING as SETTING
from .support import TOKEN as TOKEN

WORKERS_DEV = "acme"
PROVIDER_TYPE = "pulumi:providers:cloudflare"
# (stack, protect): what each shipped stack passes to a stateful block.
STACKS = [("dev", False), ("prod", True)]


def account(workers_dev_subdomain: str | None = WORKERS_DEV) -> CloudflareAccount:
    return CloudflareAccount(
        "cloudflare",
        CloudflareAccountArgs(
            account_id=ACCOUNT_ID,
            api_token=TOKEN,
            api_token_setting=SETTING,
            workers_dev_subdomain=workers_dev_subdomain,
        ),
    )


def children(plan: Plan, type_: str, name: str) -> list[tuple[str, str]]:
    component = plan.one(type_, name)
    return sorted((child.type, child.name) for child in plan.children_of(component.urn))


def uses_account_provider(plan: Plan, resource: PlannedResource) -> bool:
    provider = plan.one(PROVIDER_TYPE, "cloudflare")
    return resource.provider is not None and resource.provider.startswith(f"{provider.urn}::")


def token_never_shown(plan: Plan) -> bool:
    return TOKEN not in plan.to_json() and not plan.unmarked_secrets
