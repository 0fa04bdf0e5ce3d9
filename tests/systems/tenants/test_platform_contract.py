"""The platform stack exports exactly what its tenant stacks read: a platform that stops exporting
one of those names fails here, before a tenant stack would fail on it."""

import dataclasses

from systems.tenants import platform
from systems.tenants.tenant_config import API_TOKEN_VARIABLE
from tests.stacks import SHIPPED_STACKS, SHIPPED_TENANTS, TENANTS_DIR, platform_plan, tenant_plan
from tools.offline_plan import PLACEHOLDER_PREFIX, SECRET, Plan, evaluate_project, referenced_stack


def test_every_platform_stack_exports_what_tenants_read() -> None:
    for stack in SHIPPED_STACKS:
        outputs = platform_plan(stack).outputs
        missing = [name for name in (*platform.REQUIRED_READS, platform.API_TOKEN) if name not in outputs]
        assert missing == [], f"{stack} no longer exports {missing}, which tenant stacks read"
        assert {name: outputs[name] for name in (platform.API_TOKEN, platform.IMAGE_API_KEY)} == {
            platform.API_TOKEN: SECRET,
            platform.IMAGE_API_KEY: SECRET,
        }
        assert outputs[platform.ENVIRONMENT] == stack


def test_a_tenant_reads_nothing_else_of_its_platform() -> None:
    # Planned against the platform's exports cut down to the contract, a tenant plans the same.
    for instance_id, stack in SHIPPED_TENANTS.items():
        full = platform_plan(stack)
        read = {*platform.REQUIRED_READS, platform.ERROR_TRACKING_DSN}
        contract = dataclasses.replace(full, outputs={k: v for k, v in full.outputs.items() if k in read})
        plan = evaluate_project(
            TENANTS_DIR,
            instance_id,
            {f"organization/orchestra/{stack}": referenced_stack(contract)},
            secret_environment=[API_TOKEN_VARIABLE],
        )
        assert plan == tenant_plan(instance_id)


def test_the_platform_lists_no_tenant() -> None:
    for stack in SHIPPED_STACKS:
        plan = platform_plan(stack)
        assert plan.of_type("orchestra:system:TenantInstance") == []
        assert not any(instance_id in resource.urn for instance_id in SHIPPED_TENANTS for resource in plan.resources)
        assert not {"tenantInstances", "tenantApiKeys"} & set(plan.outputs)


def test_each_shipped_tenant_plans_with_its_secrets_kept_secret(shipped_tenant_plan: Plan) -> None:
    assert shipped_tenant_plan.unmarked_secrets == ()
    assert PLACEHOLDER_PREFIX not in shipped_tenant_plan.to_json()
    assert shipped_tenant_plan.outputs["apiKeys"] == SECRET
