import dataclasses

import pytest

from components.aws.table import GlobalIndex, Table, TableArgs
from tools.offline_plan import Plan, evaluate

ARGS = TableArgs(
    hash_key="run_id",
    attributes={"run_id": "S", "run_month": "S", "created_at": "S"},
    indexes=[GlobalIndex("recent_runs", hash_key="run_month", range_key="created_at")],
    ttl_attribute="expires_at",
)


def plan_table(stack: str, protect: bool, args: TableArgs = ARGS) -> Plan:
    return evaluate(lambda: Table("orchestrator-runs", dataclasses.replace(args, protect=protect)), stack=stack)


def test_children_and_key_inputs() -> None:
    plan = plan_table("dev", protect=False)
    component = plan.one("orchestra:aws:Table", "orchestrator-runs")
    assert [(r.type, r.name) for r in plan.children_of(component.urn)] == [
        ("aws:dynamodb/table:Table", "orchestrator-runs")
    ]
    table = plan.one("aws:dynamodb/table:Table", "orchestrator-runs").inputs
    assert table["name"] == "orchestra-orchestrator-runs-dev"
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["hashKey"] == "run_id"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}
    assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table["attributes"] == [
        {"name": "created_at", "type": "S"},
        {"name": "run_id", "type": "S"},
        {"name": "run_month", "type": "S"},
    ]
    assert table["globalSecondaryIndexes"] == [
        {
            "name": "recent_runs",
            "projectionType": "ALL",
            "keySchemas": [
                {"attributeName": "run_month", "keyType": "HASH"},
                {"attributeName": "created_at", "keyType": "RANGE"},
            ],
        }
    ]


def test_dev_table_can_be_deleted() -> None:
    plan = plan_table("dev", protect=False)
    table = plan.one("aws:dynamodb/table:Table", "orchestrator-runs")
    assert (table.protect, table.retain_on_delete, table.inputs["deletionProtectionEnabled"]) == (False, False, False)


def test_prod_table_is_protected_three_ways() -> None:
    plan = plan_table("prod", protect=True)
    table = plan.one("aws:dynamodb/table:Table", "orchestrator-runs")
    assert (table.protect, table.retain_on_delete, table.inputs["deletionProtectionEnabled"]) == (True, True, True)


def test_untyped_key_attribute_is_an_error() -> None:
    bad = TableArgs(hash_key="id", attributes={}, indexes=[GlobalIndex("by_x", hash_key="x")])
    with pytest.raises(ValueError, match="key attributes without a type: id, x"):
        plan_table("dev", protect=False, args=bad)
