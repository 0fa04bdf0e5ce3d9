"""The pack on tenant stacks: a tenant stack is guarded when the platform stack it reads is."""

import dataclasses
import json

import pytest

from components.stateful import STATEFUL_TYPES
from systems.tenants.platform_name import PLATFORM_STACK_SETTING
from tests.stacks import SHIPPED_TENANTS, TENANTS_DIR, tenant_plan
from tools.offline_plan import ComposedConfig, Plan, check_policies, compose_config, load_project

from .plans import resource

POLICY = "stateful-resources-protected-in-prod"
PROD_TENANT = next(tenant for tenant, environment in sorted(SHIPPED_TENANTS.items()) if environment == "prod")
DEV_TENANT = next(tenant for tenant, environment in sorted(SHIPPED_TENANTS.items()) if environment == "dev")


def tenant_config(stack: str) -> ComposedConfig:
    return compose_config(load_project(TENANTS_DIR), TENANTS_DIR, stack)


def unprotected(plan: Plan) -> Plan:
    """The plan with every stateful resource's protection taken off, as a program change could."""
    resources = tuple(
        dataclasses.replace(r, protect=False, retain_on_delete=False) if r.type in STATEFUL_TYPES else r
        for r in plan.resources
    )
    return dataclasses.replace(plan, resources=resources)


def test_every_shipped_tenant_stack_passes_the_pack(shipped_tenant_plan: Plan) -> None:
    assert check_policies(shipped_tenant_plan, tenant_config(shipped_tenant_plan.stack)) == []


def test_a_production_tenant_with_unprotected_data_is_refused() -> None:
    plan = unprotected(tenant_plan(PROD_TENANT))
    stateful = [r.urn for r in plan.resources if r.type in STATEFUL_TYPES]
    found = [v for v in check_policies(plan, tenant_config(PROD_TENANT)) if v.policy == POLICY]
    assert stateful and sorted(str(v.urn) for v in found) == sorted(stateful)
    assert all(v.mandatory for v in found)


def test_a_development_tenant_needs_no_protection() -> None:
    plan = unprotected(tenant_plan(DEV_TENANT))
    assert [v for v in check_policies(plan, tenant_config(DEV_TENANT)) if v.policy == POLICY] == []


def bare_tenant_plan(stack: str) -> Plan:
    database = resource("cloudflare:index/d1Database:D1Database", "tenants-x-d1")
    return Plan(project="orchestra-tenant", stack=stack, stack_urn="", resources=(database,), outputs={})


@pytest.mark.parametrize(
    ("platform_setting", "guarded"),
    [("organization/orchestra/prod", True), ("organization/orchestra/dev", False), ("not a stack name", True)],
)
def test_the_platform_stack_setting_decides_over_the_instance_file(platform_setting: str, guarded: bool) -> None:
    config = ComposedConfig(values={PLATFORM_STACK_SETTING: platform_setting}, secret_keys=frozenset())
    found = [v.policy for v in check_policies(bare_tenant_plan(DEV_TENANT), config)]
    assert found == ([POLICY] if guarded else [])


def test_a_tenant_stack_without_its_instance_file_is_held_to_production() -> None:
    config = ComposedConfig(values={}, secret_keys=frozenset())
    assert [v.policy for v in check_policies(bare_tenant_plan("no-such-instance"), config)] == [POLICY]


def test_the_guarded_list_is_the_platform_projects() -> None:
    # A tenant stack's own configuration has no say: only the platform project's Pulumi.yaml does.
    config = ComposedConfig(values={"orchestra-tenant:guardedStacks": json.dumps([])}, secret_keys=frozenset())
    assert [v.policy for v in check_policies(bare_tenant_plan(PROD_TENANT), config)] == [POLICY]
