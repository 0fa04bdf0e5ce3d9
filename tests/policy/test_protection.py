import pytest

from components.stateful import STATEFUL_TYPES

from .plans import messages, resource, violations

POLICY = "stateful-resources-protected-in-prod"
GUARDED = {"deletionProtectionEnabled": True}
"""What the service's own deletion guard needs, so that only `protect` is in question."""


@pytest.mark.parametrize("type_", sorted(STATEFUL_TYPES))
def test_every_stateful_type_unprotected_in_prod_is_a_mandatory_violation(type_: str) -> None:
    found = violations(resource(type_, "data", GUARDED))
    assert [(v.policy, v.mandatory, v.urn) for v in found] == [(POLICY, True, found[0].urn)]
    assert found[0].urn is not None and found[0].urn.endswith("::data")
    assert found[0].message.startswith("holds data and is not protected in production")


def test_protected_stateful_resources_pass() -> None:
    assert violations(resource("aws:dynamodb/table:Table", "runs", GUARDED, protect=True)) == []
    assert violations(resource("aws:secretsmanager/secret:Secret", "key", protect=True)) == []


def test_the_services_own_deletion_guards_are_on_in_production() -> None:
    table = resource("aws:dynamodb/table:Table", "runs", {"deletionProtectionEnabled": False}, protect=True)
    secret = resource("aws:secretsmanager/secret:Secret", "key", {"recoveryWindowInDays": 0}, protect=True)
    assert messages(violations(table, secret), POLICY) == [
        "holds data in production: deletionProtectionEnabled must be true",
        "holds data in production: recoveryWindowInDays 0 deletes the secret at once: keep a recovery window",
    ]
    assert violations(table, secret, stack="dev") == []


def test_outside_the_guarded_stacks_nothing_needs_protection() -> None:
    for stack in ("dev", "staging"):
        assert messages(violations(resource("aws:dynamodb/table:Table", "runs"), stack=stack), POLICY) == []


def test_the_guarded_stacks_are_the_configured_list() -> None:
    table = resource("aws:dynamodb/table:Table", "runs", GUARDED)
    assert [v.policy for v in violations(table, stack="staging", guarded_stacks=["prod", "staging"])] == [POLICY]
    assert violations(table, stack="prod", guarded_stacks=["staging"]) == []
    # Without the setting, the model's default list: prod alone.
    assert [v.policy for v in violations(table, stack="prod")] == [POLICY]


def test_stateless_resources_need_no_protection() -> None:
    assert violations(resource("aws:sns/topic:Topic", "alarms")) == []
