import pulumi
import pytest

from components.cloudflare.kv import KvNamespace, KvNamespaceArgs
from tools.offline_plan import evaluate

from .blocks import ACCOUNT_ID, STACKS, account, children, token_never_shown, uses_account_provider

NAMESPACE = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"


@pytest.mark.parametrize(("stack", "protect"), STACKS)
def test_namespace(stack: str, protect: bool) -> None:
    def program() -> None:
        pulumi.export("id", KvNamespace("sessions", KvNamespaceArgs(account(), protect=protect)).id)

    plan = evaluate(program, stack=stack)
    assert children(plan, "orchestra:cloudflare:KvNamespace", "sessions") == [(NAMESPACE, "sessions")]
    namespace = plan.one(NAMESPACE, "sessions")
    assert namespace.inputs == {"accountId": ACCOUNT_ID, "title": f"orchestra-sessions-{stack}"}
    assert uses_account_provider(plan, namespace)
    assert (namespace.protect, namespace.retain_on_delete) == (protect, protect)
    assert plan.outputs == {"id": "sessions-id"}
    assert token_never_shown(plan)
