"""A worker's Durable Object migrations over successive deployments: each one settles the stack,
so the next preview of an unchanged program shows no change."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from components.cloudflare import binding
from components.cloudflare.durable_object_migrations import DurableObjectMigration
from components.cloudflare.worker import Worker, WorkerArgs

from .blocks import account
from .deployments import DeploymentFailed, Deployments
from .support import FakeCloudflare, Script

SCRIPT = "orchestra-limiter-dev"
VERSION_TYPE = "cloudflare:index/workerVersion:WorkerVersion"
V1 = DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"])
V2 = DurableObjectMigration("v2", new_sqlite_classes=["Counter"])
MIGRATIONS_RESOURCE = "limiter-durable-object-migrations"


def limiter(source: Path, migrations: Sequence[DurableObjectMigration]) -> None:
    """The program: a worker hosting the classes `migrations` leave, bound to `RateLimiter`."""
    Worker(
        "limiter",
        WorkerArgs(
            account(),
            source,
            "2025-06-01",
            durable_object_migrations=migrations,
            bindings=[binding.durable_object_namespace("LIMITER", "RateLimiter")],
        ),
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "limiter.js"
    path.write_text("export class RateLimiter {}\nexport class Counter {}\nexport default {};\n")
    return path


@pytest.fixture
def deployments(cloudflare: FakeCloudflare, monkeypatch: pytest.MonkeyPatch) -> Deployments:
    return Deployments(cloudflare, monkeypatch)


def test_the_first_deployment_settles(cloudflare: FakeCloudflare, source: Path, deployments: Deployments) -> None:
    deployments.up(lambda: limiter(source, [V1]))

    assert deployments.steps == [("create", MIGRATIONS_RESOURCE), ("create", "limiter-version")]
    assert cloudflare.scripts[SCRIPT] == Script("v1", {"RateLimiter"}, uploads=1)
    assert deployments.preview(lambda: limiter(source, [V1])) == []
    deployments.up(lambda: limiter(source, [V1]))
    assert deployments.steps == []
    assert cloudflare.scripts[SCRIPT].uploads == 1


def test_a_deployment_that_applies_a_new_step_settles(
    cloudflare: FakeCloudflare, source: Path, deployments: Deployments
) -> None:
    deployments.up(lambda: limiter(source, [V1]))

    plan = deployments.up(lambda: limiter(source, [V1, V2]))

    assert deployments.steps == [("update", MIGRATIONS_RESOURCE), ("update", "limiter-version")]
    assert cloudflare.scripts[SCRIPT] == Script("v2", {"RateLimiter", "Counter"}, uploads=2)
    sent = plan.one(VERSION_TYPE, "limiter-version").inputs["migrations"]
    assert sent == {"oldTag": "v1", "newTag": "v2", "steps": [{"newSqliteClasses": ["Counter"]}]}
    assert deployments.preview(lambda: limiter(source, [V1, V2])) == []


def test_a_later_upload_carries_no_migration_once_the_script_has_them_all(
    cloudflare: FakeCloudflare, source: Path, deployments: Deployments
) -> None:
    deployments.up(lambda: limiter(source, [V1, V2]))
    source.write_text(source.read_text() + "// a fix\n")

    plan = deployments.up(lambda: limiter(source, [V1, V2]))

    assert deployments.steps == [("update", MIGRATIONS_RESOURCE), ("update", "limiter-version")]
    assert "migrations" not in plan.one(VERSION_TYPE, "limiter-version").inputs
    assert cloudflare.scripts[SCRIPT] == Script("v2", {"RateLimiter", "Counter"}, uploads=2)
    assert deployments.preview(lambda: limiter(source, [V1, V2])) == []


def test_a_script_at_the_last_tag_already_is_uploaded_without_migrations(
    cloudflare: FakeCloudflare, source: Path, deployments: Deployments
) -> None:
    # Deployed by other means, with v1 applied.
    cloudflare.scripts[SCRIPT] = Script("v1", {"RateLimiter"}, uploads=1)

    plan = deployments.up(lambda: limiter(source, [V1]))

    assert deployments.steps == [("create", MIGRATIONS_RESOURCE), ("create", "limiter-version")]
    assert "migrations" not in plan.one(VERSION_TYPE, "limiter-version").inputs
    assert cloudflare.scripts[SCRIPT] == Script("v1", {"RateLimiter"}, uploads=2)
    assert deployments.preview(lambda: limiter(source, [V1])) == []


@pytest.mark.parametrize(
    "migrations",
    [
        # What a fixed migration sends on every upload: refused once the script is at v1.
        {"newTag": "v1", "newSqliteClasses": ["RateLimiter"]},
        {"newTag": "v1", "steps": [{"newSqliteClasses": ["RateLimiter"]}]},
        {"oldTag": "v0", "newTag": "v2", "steps": [{"newSqliteClasses": ["Counter"]}]},
    ],
)
def test_the_fake_refuses_migrations_that_do_not_start_from_the_scripts_tag(
    cloudflare: FakeCloudflare, deployments: Deployments, migrations: dict[str, Any]
) -> None:
    cloudflare.scripts[SCRIPT] = Script("v1", {"RateLimiter"}, uploads=1)
    inputs = {"scriptName": SCRIPT, "mainModule": "limiter.js", "bindings": [], "migrations": migrations}

    with pytest.raises(DeploymentFailed, match=r"10079.*Migration tag precondition failed; current tag is v1"):
        deployments.upload(SCRIPT, inputs)
    assert cloudflare.scripts[SCRIPT] == Script("v1", {"RateLimiter"}, uploads=1)
