import hashlib
import json
from typing import Any

import pulumi
import pytest
from pulumi.runtime import MockCallArgs

import tools.offline_plan.runner
from components.cloudflare.account_token import WORKERS_DEPLOY_PERMISSIONS, AccountToken, AccountTokenArgs
from tools.offline_plan import SECRET, Plan, evaluate
from tools.offline_plan.mock_outputs import OfflineMocks

from .blocks import ACCOUNT_ID, account, children, token_never_shown, uses_account_provider

TOKEN = "cloudflare:index/accountToken:AccountToken"
LOOKUP = "cloudflare:index/getAccountApiTokenPermissionGroupsList:getAccountApiTokenPermissionGroupsList"


def plan_token(permissions: tuple[str, ...] = WORKERS_DEPLOY_PERMISSIONS) -> Plan:
    def program() -> None:
        token = AccountToken("workers-deploy", AccountTokenArgs(account(), permissions=permissions))
        pulumi.export("token", token.value)

    return evaluate(program, stack="prod")


def test_one_allow_policy_over_this_account_with_the_named_groups() -> None:
    plan = plan_token()
    assert children(plan, "orchestra:cloudflare:AccountToken", "workers-deploy") == [(TOKEN, "workers-deploy")]
    token = plan.one(TOKEN, "workers-deploy")
    assert token.inputs["name"] == "orchestra-workers-deploy-prod"
    [policy] = token.inputs["policies"]
    assert policy["effect"] == "allow"
    assert json.loads(policy["resources"]) == {f"com.cloudflare.api.account.{ACCOUNT_ID}": "*"}
    ids = [group["id"] for group in policy["permissionGroups"]]
    assert len(ids) == len(WORKERS_DEPLOY_PERMISSIONS) == len(set(ids))
    assert all(len(group_id) == 32 for group_id in ids)
    assert uses_account_provider(plan, token)


def test_the_value_is_a_secret() -> None:
    plan = plan_token()
    assert plan.outputs["token"] == SECRET
    assert token_never_shown(plan)


def test_the_groups_are_looked_up_once_unfiltered_and_matched_by_exact_name(monkeypatch: pytest.MonkeyPatch) -> None:
    invokes: list[tuple[str, dict[str, Any]]] = []

    class RecordingMocks(OfflineMocks):
        def call(self, args: MockCallArgs) -> Any:
            invokes.append((args.token, dict(args.args)))
            return super().call(args)

    monkeypatch.setattr(tools.offline_plan.runner, "OfflineMocks", RecordingMocks)
    plan = plan_token(("D1 Write", "Workers Scripts Write"))

    # A `name` filter needs URL-encoded names; the names here have spaces.
    assert invokes == [(LOOKUP, {"accountId": ACCOUNT_ID})]
    [policy] = plan.one(TOKEN, "workers-deploy").inputs["policies"]
    assert [group["id"] for group in policy["permissionGroups"]] == [
        group_id("D1 Write"),
        group_id("Workers Scripts Write"),
    ]


def group_id(name: str) -> str:
    return hashlib.sha256(f"cloudflare-permission-group/{name}".encode()).hexdigest()[:32]


def test_an_unknown_permission_stops_the_program_naming_it() -> None:
    with pytest.raises(Exception, match="Cloudflare has no permission group named 'D1 Writ', 'Workers'"):
        plan_token(("D1 Write", "D1 Writ", "Workers"))


@pytest.mark.parametrize("permissions", [(), ("D1 Write", "D1 Write")])
def test_permissions_must_be_distinct_and_present(permissions: tuple[str, ...]) -> None:
    with pytest.raises(Exception, match="permissions must be distinct names"):
        plan_token(permissions)
