import dataclasses
import hashlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.cloudflare import binding
from components.cloudflare.durable_object_migrations import DurableObjectMigration
from components.cloudflare.worker import Worker, WorkerArgs, WorkerRolloutSettings
from tools.offline_plan import SECRET, Plan, evaluate

from .blocks import ACCOUNT_ID, SETTING, TOKEN, account, children, token_never_shown, uses_account_provider

REPOSITORY = Path(__file__).resolve().parents[3]
SCRIPT = "import { greet } from './lib/greet.js';\nexport default { fetch() { return new Response(greet()); } };\n"
WORKER = "orchestra:cloudflare:Worker"
SCRIPT_TYPE = "cloudflare:index/worker:Worker"
VERSION_TYPE = "cloudflare:index/workerVersion:WorkerVersion"
ROLLOUT_TYPE = "pulumi-python:dynamic/cloudflare:WorkerRollout"
MIGRATIONS_TYPE = "pulumi-python:dynamic/cloudflare:DurableObjectMigrations"
CRON_TYPE = "cloudflare:index/workersCronTrigger:WorkersCronTrigger"
DOMAIN_TYPE = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
ROUTE_TYPE = "cloudflare:index/workersRoute:WorkersRoute"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A worker's directory: the main module, an imported module and a text module."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "worker.js").write_text(SCRIPT)
    (tmp_path / "lib" / "greet.js").write_text("export const greet = () => 'hello';\n")
    (tmp_path / "lib" / "schema.sql").write_text("CREATE TABLE t (id TEXT);\n")
    return tmp_path


def plan_worker(source: Path, stack: str = "dev", workers_dev_subdomain: str | None = "acme", **overrides: Any) -> Plan:
    """Plans worker `api` of `source/worker.js`, with `overrides` of its arguments."""

    def program() -> None:
        args = WorkerArgs(
            account=account(workers_dev_subdomain),
            main_module=source / "worker.js",
            compatibility_date="2025-06-01",
        )
        worker = Worker("api", dataclasses.replace(args, **overrides))
        pulumi.export("script_name", worker.script_name)
        pulumi.export("url", worker.url)

    return evaluate(program, stack=stack)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def version_of(plan: Plan) -> dict[str, Any]:
    return plan.one(VERSION_TYPE, "api-version").inputs


def modules_of(version: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The version's modules by upload name, the main module first."""
    return {module["name"]: module for module in version["modules"]}


def test_a_plain_worker_is_its_script_its_version_and_its_rollout(source: Path) -> None:
    plan = plan_worker(source)
    assert children(plan, WORKER, "api") == [
        (SCRIPT_TYPE, "api"),
        (VERSION_TYPE, "api-version"),
        (ROLLOUT_TYPE, "api-rollout"),
    ]
    assert plan.one(SCRIPT_TYPE, "api").inputs == {
        "accountId": ACCOUNT_ID,
        "name": "orchestra-api-dev",
        "observability": {"enabled": True, "headSamplingRate": 1},
        "subdomain": {"enabled": True, "previewsEnabled": True},
    }
    assert version_of(plan)["workerId"] == "api-id"
    # By default each version is deployed at once, the gate's limits set for when a canary is asked.
    assert plan.one(ROLLOUT_TYPE, "api-rollout").inputs == {
        "__provider": plan.one(ROLLOUT_TYPE, "api-rollout").inputs["__provider"],
        "api_base": "https://api.cloudflare.com/client/v4",
        "account_id": ACCOUNT_ID,
        "script_name": "orchestra-api-dev",
        "credential_setting": SETTING,
        "version_id": "api-version-id",
        "health_url": "https://orchestra-api-dev.acme.workers.dev/healthz",
        "all_at_once_reason": "",
        "canary_percentage": 100,
        "bake_seconds": 300,
        "poll_seconds": 10,
        "max_error_rate": 0.02,
        "min_requests": 20,
    }
    assert plan.outputs == {"script_name": "orchestra-api-dev", "url": "https://orchestra-api-dev.acme.workers.dev"}


def test_version_upload_inputs(source: Path) -> None:
    modules = [source / "lib" / "greet.js", source / "lib" / "schema.sql"]
    plan = plan_worker(source, stack="prod", modules=modules, compatibility_flags=["nodejs_compat"])
    assert version_of(plan) == {
        "accountId": ACCOUNT_ID,
        "workerId": "api-id",
        "mainModule": "worker.js",
        "modules": [
            {
                "name": "worker.js",
                "contentType": "application/javascript+module",
                "contentFile": str(source / "worker.js"),
                "contentSha256": digest(source / "worker.js"),
            },
            {
                "name": "lib/greet.js",
                "contentType": "application/javascript+module",
                "contentFile": str(source / "lib" / "greet.js"),
                "contentSha256": digest(source / "lib" / "greet.js"),
            },
            {
                "name": "lib/schema.sql",
                "contentType": "text/plain",
                "contentFile": str(source / "lib" / "schema.sql"),
                "contentSha256": digest(source / "lib" / "schema.sql"),
            },
        ],
        "compatibilityDate": "2025-06-01",
        "compatibilityFlags": ["nodejs_compat"],
        "bindings": [],
        # Uploaded, not deployed: the rollout deploys it.
        "deploy": False,
    }


def test_the_rollout_takes_the_canary_settings(source: Path) -> None:
    plan = plan_worker(source, rollout=WorkerRolloutSettings(canary_percent=10, canary_minutes=5))
    rollout = plan.one(ROLLOUT_TYPE, "api-rollout").inputs
    assert (rollout["version_id"], rollout["canary_percentage"], rollout["bake_seconds"]) == ("api-version-id", 10, 300)
    assert rollout["all_at_once_reason"] == ""
    # A custom domain is where the gate asks the new version's /healthz.
    domained = plan_worker(source, custom_domains=[("api.example.com", "zone-1")])
    assert domained.one(ROLLOUT_TYPE, "api-rollout").inputs["health_url"] == "https://api.example.com/healthz"
    assert plan_worker(source, workers_dev=False).one(ROLLOUT_TYPE, "api-rollout").inputs["health_url"] == ""


def test_content_hashes_change_with_the_content_and_only_then(source: Path) -> None:
    def hashes() -> tuple[str, str]:
        modules = modules_of(version_of(plan_worker(source, modules=[source / "lib" / "greet.js"])))
        return modules["worker.js"]["contentSha256"], modules["lib/greet.js"]["contentSha256"]

    first = hashes()
    assert hashes() == first
    (source / "worker.js").write_text(SCRIPT.replace("fetch()", "fetch( )"))
    edited_main = hashes()
    assert edited_main[0] != first[0] and edited_main[1] == first[1]
    (source / "lib" / "greet.js").write_text("export const greet = () => 'hellO';\n")
    edited_module = hashes()
    assert edited_module[0] == edited_main[0] and edited_module[1] != first[1]


def test_the_version_covers_every_uploaded_module_and_reaches_the_script(source: Path) -> None:
    modules = [source / "lib" / "greet.js", source / "lib" / "schema.sql"]

    def version() -> str:
        script = version_of(plan_worker(source, modules=modules, version_binding="VERSION"))
        [binding] = [b for b in script["bindings"] if b["name"] == "VERSION"]
        assert binding["type"] == "plain_text"
        return binding["text"]

    first = version()
    assert len(first) == 64 and version() == first
    seen = {first}
    for path in [source / "worker.js", *modules]:
        path.write_text(path.read_text() + "\n")
        seen.add(version())
    # Each module's change, and only that, gave a new version.
    assert len(seen) == 4
    assert version_of(plan_worker(source, modules=modules))["bindings"] == []


def test_inside_the_working_directory_paths_are_relative(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(source)
    plan = plan_worker(source, modules=[Path("lib/greet.js")])
    modules = modules_of(version_of(plan))
    assert modules["worker.js"]["contentFile"] == "worker.js"
    assert modules["lib/greet.js"]["contentFile"] == "lib/greet.js"


def test_triggers_domains_and_routes_appear_when_asked(source: Path) -> None:
    plan = plan_worker(
        source,
        crons=["*/5 * * * *", "0 3 * * *"],
        custom_domains=[("api.example.com", "zone-1"), ("api.example.org", "zone-2")],
        routes=[("example.com/api/*", "zone-1")],
    )
    assert children(plan, WORKER, "api") == [
        (SCRIPT_TYPE, "api"),
        (VERSION_TYPE, "api-version"),
        (CRON_TYPE, "api-crons"),
        (DOMAIN_TYPE, "api-domain-api.example.com"),
        (DOMAIN_TYPE, "api-domain-api.example.org"),
        (ROUTE_TYPE, "api-route-example.com/api/*"),
        (ROLLOUT_TYPE, "api-rollout"),
    ]
    # Each serves the deployed worker: none is declared before the rollout has deployed a version.
    rollout = plan.one(ROLLOUT_TYPE, "api-rollout").urn
    for kind, child in [
        (CRON_TYPE, "api-crons"),
        (DOMAIN_TYPE, "api-domain-api.example.com"),
        (ROUTE_TYPE, "api-route-example.com/api/*"),
    ]:
        assert rollout in plan.one(kind, child).dependencies, child
    assert plan.one(CRON_TYPE, "api-crons").inputs == {
        "accountId": ACCOUNT_ID,
        "scriptName": "orchestra-api-dev",
        "schedules": [{"cron": "*/5 * * * *"}, {"cron": "0 3 * * *"}],
    }
    assert plan.one(DOMAIN_TYPE, "api-domain-api.example.com").inputs == {
        "accountId": ACCOUNT_ID,
        "hostname": "api.example.com",
        "service": "orchestra-api-dev",
        "zoneId": "zone-1",
    }
    assert plan.one(ROUTE_TYPE, "api-route-example.com/api/*").inputs == {
        "pattern": "example.com/api/*",
        "script": "orchestra-api-dev",
        "zoneId": "zone-1",
    }
    # The first custom domain is the worker's URL.
    assert plan.outputs["url"] == "https://api.example.com"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_child_uses_the_account_provider_and_none_is_protected(source: Path, stack: str) -> None:
    def program() -> None:
        args = WorkerArgs(
            account(),
            source / "worker.js",
            "2025-06-01",
            bindings=[binding.secret_text("API_KEY", TOKEN)],
            crons=["0 * * * *"],
            custom_domains=[("a.example.com", "z")],
            routes=[("a.example.com/*", "z")],
        )
        Worker("api", args)

    plan = evaluate(program, stack=stack)
    component = plan.one(WORKER, "api")
    children = plan.children_of(component.urn)
    assert len(children) == 6
    for child in children:
        # The rollout is a dynamic resource, which reads the account's token itself.
        if child.type != ROLLOUT_TYPE:
            assert uses_account_provider(plan, child), child.name
        # A script holds no data: it is replaced and deleted freely in every stack.
        assert (child.protect, child.retain_on_delete) == (False, False), child.name
    assert token_never_shown(plan)


def test_off_workers_dev_the_worker_is_disabled_there_and_has_no_url_without_a_domain(source: Path) -> None:
    plan = plan_worker(source, workers_dev=False)
    assert plan.one(SCRIPT_TYPE, "api").inputs["subdomain"] == {"enabled": False, "previewsEnabled": False}
    assert "url" not in plan.outputs


def test_without_the_accounts_subdomain_a_workers_dev_worker_has_no_url(source: Path) -> None:
    assert "url" not in plan_worker(source, workers_dev_subdomain=None).outputs


def test_observability_can_be_turned_off(source: Path) -> None:
    script = plan_worker(source, observability=False).one(SCRIPT_TYPE, "api").inputs
    assert script["observability"] == {"enabled": False, "headSamplingRate": 1}


def test_a_script_name_chosen_by_hand_is_used_as_written(source: Path) -> None:
    plan = plan_worker(source, stack="prod", script_name="config-service-acme")
    assert plan.one(SCRIPT_TYPE, "api").inputs["name"] == "config-service-acme"
    assert plan.outputs["url"] == "https://config-service-acme.acme.workers.dev"


def test_durable_object_migrations_feed_the_upload_through_the_pending_steps(source: Path) -> None:
    migrations = [
        DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"]),
        DurableObjectMigration("v2", new_classes=["Counter"]),
    ]
    plan = plan_worker(
        source, durable_object_migrations=migrations, bindings=[binding.durable_object_namespace("LIMITER", "Counter")]
    )
    pending = plan.one(MIGRATIONS_TYPE, "api-durable-object-migrations")
    assert pending.parent == plan.one(WORKER, "api").urn
    assert pending.inputs["script_name"] == "orchestra-api-dev"
    # It reads the script with the account's token, found in the stack setting it names.
    assert pending.inputs["credential_setting"] == SETTING
    assert re.fullmatch(r"[0-9a-f]{64}", pending.inputs["upload_digest"])
    assert token_never_shown(plan)
    # Offline, nothing reads the live tag: the plan shows what a new script gets.
    assert version_of(plan)["migrations"] == {
        "newTag": "v2",
        "steps": [{"newSqliteClasses": ["RateLimiter"]}, {"newClasses": ["Counter"]}],
    }
    assert "migrations" not in version_of(plan_worker(source))


def test_a_version_with_a_pending_migration_is_deployed_at_once_and_the_plan_says_why(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lambda message, *_, **__: said.append(message))
    canary = WorkerRolloutSettings(canary_percent=10, canary_minutes=5)
    migrations = [DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"])]
    plan = plan_worker(source, rollout=canary, durable_object_migrations=migrations)
    reason = plan.one(ROLLOUT_TYPE, "api-rollout").inputs["all_at_once_reason"]
    assert reason == "a Durable Object migration is pending, which Cloudflare's gradual deployments do not allow"
    assert said == [f"worker api: the new version is deployed at once: {reason}"]


def upload_digest(source: Path, **overrides: Any) -> Any:
    migrations = [DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"])]
    plan = plan_worker(source, durable_object_migrations=migrations, **overrides)
    return plan.one(MIGRATIONS_TYPE, "api-durable-object-migrations").inputs["upload_digest"]


def test_the_upload_digest_changes_exactly_when_the_upload_does(source: Path) -> None:
    digest = upload_digest(source)

    assert upload_digest(source) == digest
    assert upload_digest(source, bindings=[binding.plain_text("MODE", "strict")]) != digest
    assert upload_digest(source, compatibility_flags=["nodejs_compat"]) != digest
    # Logs are the script's setting, not the version's: changing them uploads no new version.
    assert upload_digest(source, observability=False) == digest
    (source / "worker.js").write_text(SCRIPT + "// a fix\n")
    assert upload_digest(source) != digest


def test_a_secret_binding_keeps_the_upload_digest_secret(source: Path) -> None:
    def program() -> None:
        args = WorkerArgs(
            account(),
            source / "worker.js",
            "2025-06-01",
            bindings=[binding.secret_text("API_KEY", TOKEN)],
            durable_object_migrations=[DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"])],
        )
        Worker("api", args)

    plan = evaluate(program)
    assert plan.one(MIGRATIONS_TYPE, "api-durable-object-migrations").inputs["upload_digest"] == SECRET
    assert token_never_shown(plan)


def test_duplicate_binding_names_are_an_error(source: Path) -> None:
    bindings = [binding.plain_text("MODE", "a"), binding.workers_ai("AI"), binding.plain_text("MODE", "b")]
    with pytest.raises(ValueError, match="worker api: binding names must be unique; repeated: MODE"):
        plan_worker(source, bindings=bindings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"crons": ["* * * * *", "* * * * *"]}, r"cron names must be unique; repeated: \* \* \* \* \*"),
        ({"crons": ["@daily"]}, "cron '@daily' must have five fields"),
        ({"compatibility_flags": ["nodejs_compat", "nodejs_compat"]}, "compatibility flag names must be unique"),
        ({"custom_domains": [("a.example.com", "z"), ("a.example.com", "y")]}, "custom domain names must be unique"),
        ({"routes": [("a.example.com/*", "z"), ("a.example.com/*", "z")]}, "route names must be unique"),
        ({"compatibility_date": "2025-13-01"}, "compatibility_date '2025-13-01' must be a date, YYYY-MM-DD"),
        ({"compatibility_date": "June 2025"}, "compatibility_date 'June 2025' must be a date"),
        (
            {"durable_object_migrations": [DurableObjectMigration("v1", new_classes=["Rate-Limiter"])]},
            r"must be JavaScript class names: \['Rate-Limiter'\]",
        ),
        (
            {"bindings": [binding.durable_object_namespace("LIMITER", "RateLimiter")]},
            "binding LIMITER names class 'RateLimiter', which its durable_object_migrations do not define",
        ),
        ({"bindings": [binding.plain_text("VERSION", "1")], "version_binding": "VERSION"}, "repeated: VERSION"),
        ({"script_name": "Config_Service"}, "Worker script name 'Config_Service' must be made of"),
        ({"rollout": WorkerRolloutSettings(canary_percent=0)}, "rollout canary_percent 0 must be from 1 to 100"),
        ({"rollout": WorkerRolloutSettings(canary_percent=101)}, "rollout canary_percent 101 must be from 1 to 100"),
        ({"rollout": WorkerRolloutSettings(canary_minutes=-1)}, "rollout canary_minutes -1 must be from 0 to 1440"),
    ],
)
def test_arguments_cloudflare_would_refuse_stop_the_program(
    source: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plan_worker(source, **overrides)


def test_modules_must_be_supported_and_beside_the_main_module(
    source: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (source / "lib" / "data.yaml").write_text("{}")
    with pytest.raises(ValueError, match=r"data\.yaml is not one of the supported types: \.js, \.mjs, \.cjs"):
        plan_worker(source, modules=[source / "lib" / "data.yaml"])
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "util.js"
    elsewhere.write_text("export {};\n")
    with pytest.raises(ValueError, match=r"util\.js is outside .*, the modules root"):
        plan_worker(source, modules=[elsewhere])
    with pytest.raises(ValueError, match=r"module lib/greet\.js is given twice"):
        plan_worker(source, modules=[source / "lib" / "greet.js", source / "lib" / "greet.js"])
    with pytest.raises(ValueError, match=r"the main module .*schema\.sql must be an ES module"):
        plan_worker(source, main_module=source / "lib" / "schema.sql")
    with pytest.raises(ValueError, match=r"worker module .*missing\.js does not exist"):
        plan_worker(source, main_module=source / "missing.js")


def test_a_modules_root_keeps_the_paths_modules_import_each_other_by(source: Path) -> None:
    (source / "app").mkdir()
    (source / "app" / "worker.js").write_text('import { greet } from "../lib/greet.js";\n' + SCRIPT)
    script = version_of(
        plan_worker(
            source, main_module=source / "app" / "worker.js", modules=[source / "lib" / "greet.js"], modules_root=source
        )
    )
    assert script["mainModule"] == "app/worker.js"
    assert list(modules_of(script)) == ["app/worker.js", "lib/greet.js"]
    with pytest.raises(ValueError, match=r"worker\.js is outside .*lib, the modules root"):
        plan_worker(source, modules_root=source / "lib")


def test_another_worker_binds_only_classes_this_worker_defines(source: Path) -> None:
    def program() -> None:
        migrations = [DurableObjectMigration("v1", new_sqlite_classes=["RateLimiter"])]
        args = WorkerArgs(account(), source / "worker.js", "2025-06-01", durable_object_migrations=migrations)
        Worker("limiter", args).durable_object_binding("LIMITER", "Counter")

    with pytest.raises(ValueError, match="worker limiter: its durable_object_migrations do not define 'Counter'"):
        evaluate(program)


NPM_IMPORT = (
    "import { parse } from 'cookie';\nimport { greet } from './lib/greet.js';\n"
    "export default { fetch() { return new Response(greet() + parse('a=b').a); } };\n"
)


def test_a_bundled_worker_uploads_one_module_made_by_esbuild_and_stable(source: Path) -> None:
    (source / "worker.js").write_text(NPM_IMPORT)

    def upload() -> dict[str, Any]:
        return version_of(
            plan_worker(source, bundle=True, modules=[source / "lib" / "schema.sql"], version_binding="VERSION")
        )

    first = upload()
    bundle = Path(modules_of(first)["worker.js"]["contentFile"]).resolve()
    assert first["mainModule"] == "worker.js"
    assert bundle.is_relative_to(Path(__file__).resolve().parents[3] / "build" / "workers")
    assert bundle.name == "worker.js"
    text = bundle.read_text()
    # The npm package and the imported module are inside; no bare import is left.
    assert "node_modules/cookie/" in text and "lib/greet.js" in text
    assert "from 'cookie'" not in text and 'from "cookie"' not in text
    assert modules_of(first)["worker.js"]["contentSha256"] == digest(bundle)
    assert set(modules_of(first)) == {"worker.js", "lib/schema.sql"}
    # Bundled again from the same files: the same bytes, so no diff.
    assert upload() == first
    (source / "lib" / "greet.js").write_text("export const greet = () => 'hellO';\n")
    changed = upload()
    assert changed["modules"][0]["contentSha256"] != first["modules"][0]["contentSha256"]
    assert changed["bindings"] != first["bindings"]


def test_a_later_run_takes_the_bundle_made_from_unchanged_files_without_bundling_again(source: Path) -> None:
    (source / "worker.js").write_text(NPM_IMPORT)
    bundle = Path(modules_of(version_of(plan_worker(source, bundle=True)))["worker.js"]["contentFile"]).resolve()
    made = bundle.read_bytes()
    # Every plan and preview is a fresh process; without Node on its PATH it could not bundle at all.
    later_run = (
        "import sys; from pathlib import Path; from components.cloudflare.worker import _bundle; "
        "print(_bundle('api', Path(sys.argv[1])))"
    )
    command = [sys.executable, "-c", later_run, str(source / "worker.js")]
    no_node = {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(REPOSITORY)}
    result = subprocess.run(command, cwd=REPOSITORY, env=no_node, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == bundle and bundle.read_bytes() == made
    (source / "lib" / "greet.js").write_text("export const greet = () => 'hellO';\n")
    result = subprocess.run(command, cwd=REPOSITORY, env=no_node, capture_output=True, text=True)
    assert "needs Node 20+ on PATH" in result.stderr


def test_a_bundled_worker_takes_no_es_module_beside_it_and_reports_what_esbuild_could_not_resolve(
    source: Path,
) -> None:
    with pytest.raises(ValueError, match=r"greet\.js is an ES module, which the bundle already holds"):
        plan_worker(source, bundle=True, modules=[source / "lib" / "greet.js"])
    (source / "worker.js").write_text("import 'no-such-package-here';\nexport default {};\n")
    with pytest.raises(ValueError, match=r"worker api: esbuild could not bundle .*no-such-package-here"):
        plan_worker(source, bundle=True)


def test_the_log_sampling_rate_is_declared_and_bounded(source: Path) -> None:
    script = plan_worker(source, log_sampling_rate=0.25).one(SCRIPT_TYPE, "api").inputs
    assert script["observability"] == {"enabled": True, "headSamplingRate": 0.25}
    with pytest.raises(ValueError, match=r"log_sampling_rate 1\.5 must be from 0 to 1"):
        plan_worker(source, log_sampling_rate=1.5)
