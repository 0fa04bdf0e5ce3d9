import pytest

from components.cloudflare.durable_object_migrations import DurableObjectMigration, defined_classes

V1 = DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"])


@pytest.mark.parametrize(
    ("migrations", "message"),
    [
        ([V1, V1], "migration 'v1': tags must be unique"),
        ([DurableObjectMigration("v1")], "a step must create, rename, delete or transfer a class"),
        ([V1, DurableObjectMigration("v2", new_classes=["RateLimiter"])], "class RateLimiter already exists"),
        ([DurableObjectMigration("v1", deleted_classes=["Gone"])], "cannot delete Gone, which does not exist"),
        ([V1, DurableObjectMigration("v2", renamed_classes=[("Counter", "Meter")])], "cannot rename Counter"),
        ([DurableObjectMigration("v1", new_classes=["Rate-Limiter"])], r"class names: \['Rate-Limiter'\]"),
        ([DurableObjectMigration("v 1", new_classes=["A"])], "a tag is 1-64 letters"),
    ],
)
def test_a_history_cloudflare_would_refuse_stops_the_program(
    migrations: list[DurableObjectMigration], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        defined_classes("limiter", migrations)


def test_the_classes_are_those_the_steps_leave() -> None:
    history = [
        V1,
        DurableObjectMigration("v2", new_classes=["Counter"], renamed_classes=[("RateLimiter", "Limiter")]),
        DurableObjectMigration("v3", deleted_classes=["Counter"], transferred_classes=[("old-worker", "Queue", "Q")]),
    ]
    assert defined_classes("limiter", history) == {"Limiter", "Q"}
    assert history[2].step() == {
        "tag": "v3",
        "deleted_classes": ["Counter"],
        "transferred_classes": [{"from": "Queue", "from_script": "old-worker", "to": "Q"}],
    }
