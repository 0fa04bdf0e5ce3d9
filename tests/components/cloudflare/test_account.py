import pulumi
import pytest

from components.cloudflare.account import CloudflareAccount, CloudflareAccountArgs
from tools.offline_plan import SECRET, evaluate

from .blocks import ACCOUNT_ID, PROVIDER_TYPE, SETTING, TOKEN, account, children, token_never_shown


def test_one_explicit_provider_holds_the_token_as_a_secret() -> None:
    plan = evaluate(account, stack="prod")
    assert children(plan, "orchestra:cloudflare:Account", "cloudflare") == [(PROVIDER_TYPE, "cloudflare")]
    assert plan.one(PROVIDER_TYPE, "cloudflare").inputs == {"apiToken": SECRET}
    assert token_never_shown(plan)


def test_exposes_the_account_and_a_secret_token() -> None:
    def program() -> None:
        cloudflare = account()
        pulumi.export("account_id", cloudflare.account_id)
        pulumi.export("api_token", cloudflare.api_token)

    plan = evaluate(program)
    assert plan.outputs == {"account_id": ACCOUNT_ID, "api_token": SECRET}


def test_empty_account_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="Cloudflare account cloudflare: account_id is empty"):
        evaluate(
            lambda: CloudflareAccount(
                "cloudflare", CloudflareAccountArgs(account_id="", api_token=TOKEN, api_token_setting=SETTING)
            )
        )
