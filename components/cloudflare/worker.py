"""A Worker: an ES-module script with its bindings, triggers and the places it is served."""

import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare

from ..naming import WORKER_SCRIPT, resolve_name
from ..providers.durable_object_migrations import DurableObjectMigrations
from ..providers.worker_rollout import WorkerRollout
from .account import CloudflareAccount
from .binding import Binding, external_durable_object, plain_text, service
from .durable_object_migrations import DurableObjectMigration, defined_classes

_ES_MODULE = "application/javascript+module"
# wrangler's default module rules and content types (`moduleTypeMimeType` in workers-sdk).
_MODULE_CONTENT_TYPES = {
    ".js": _ES_MODULE,
    ".mjs": _ES_MODULE,
    ".cjs": "application/javascript",
    ".wasm": "application/wasm",
    ".txt": "text/plain",
    ".html": "text/plain",
    ".sql": "text/plain",
    ".bin": "application/octet-stream",
    # Data files go up as text and are parsed by the script: the upload API has no JSON module type.
    ".json": "text/plain",
}
_REPOSITORY = Path(__file__).resolve().parents[2]
_BUNDLER = Path(__file__).resolve().with_name("bundle.mjs")
_BUNDLES = _REPOSITORY / "build" / "workers"


# The gate's limits, the same for every worker: a version failing more than 2% of at least 20
# requests is rolled back, at the first look every 10 s that shows it.
MAX_ERROR_RATE = 0.02
MIN_REQUESTS = 20
POLL_SECONDS = 10.0
# The rollout's own limit on a bake: a day.
_MAX_CANARY_MINUTES = 1440
_PENDING_MIGRATION = "a Durable Object migration is pending, which Cloudflare's gradual deployments do not allow"


@dataclass(frozen=True)
class WorkerRolloutSettings:
    """How a new version of the worker takes its traffic."""

    canary_percent: int = 100
    """The new version's share while the gate watches it (1-100); 100, the default, deploys it at once."""
    canary_minutes: int = 5
    """How long the gate watches the canary before the version takes all traffic (0-1440)."""


@dataclass(frozen=True)
class WorkerArgs:
    account: CloudflareAccount
    main_module: Path
    """The ES module exporting the handlers (`.js` or `.mjs`); uploaded under its path relative to
    `modules_root`."""
    compatibility_date: str
    """`YYYY-MM-DD`: the Workers runtime behaves as it did on that date."""
    modules: Sequence[Path] = ()
    """Further modules the main module imports, inside `modules_root`; each is uploaded under its path
    relative to it, typed by extension as wrangler does (`.js`/`.mjs` ES module, `.cjs` CommonJS,
    `.wasm`, `.txt`/`.html`/`.sql` text, `.bin` data). None by default."""
    modules_root: Path | None = None
    """The directory every module's upload name is relative to, like wrangler's `base_dir`, so modules
    can import each other by relative path (`../shared/http.js`). By default the main module's directory."""
    script_name: str | None = None
    """A name chosen by hand, used as written; by default the naming function's `<project>-<name>-<stack>`."""
    compatibility_flags: Sequence[str] = ()
    bindings: Sequence[Binding] = ()
    """What the script reaches through `env`; names must be unique."""
    durable_object_migrations: Sequence[DurableObjectMigration] = ()
    """The script's Durable Object history, oldest first, only ever appended to: the classes it
    defines are those the steps leave. Each upload sends only the steps the live script lacks.
    None by default."""
    version_binding: str | None = None
    """The name of a plain-text binding that carries `Worker.version` to the script; none by default."""
    crons: Sequence[str] = ()
    """Five-field cron expressions (UTC) that run the script's `scheduled` handler; none by default."""
    custom_domains: Sequence[tuple[str, pulumi.Input[str]]] = ()
    """`(hostname, zone_id)`: hostnames served by the worker alone, with their DNS record and certificate."""
    routes: Sequence[tuple[str, pulumi.Input[str]]] = ()
    """`(pattern, zone_id)`: URL patterns of a proxied zone that run the worker, e.g. `example.com/api/*`."""
    workers_dev: bool = True
    """Whether `https://<script>.<account subdomain>.workers.dev` serves the worker. Declared either way,
    so the account's default never decides it."""
    observability: bool = True
    """Workers Logs for the script's invocations."""
    log_sampling_rate: float = 1.0
    """The share of invocations Workers Logs keeps, from 0 (none) to 1 (every one, the default)."""
    rollout: WorkerRolloutSettings = WorkerRolloutSettings()
    """The canary a new version goes through; by default none, each version deployed at once."""
    bundle: bool = False
    """Upload the main module bundled with the ES modules it imports and the npm packages they name
    (esbuild, `bundle.mjs`, from the project's node_modules), under the main module's name; `modules`
    then holds only text and data modules, imported beside it. Off by default."""


class Worker(pulumi.ComponentResource):
    """`cloudflare.Worker` (the script, its workers.dev setting and logs), a `cloudflare.WorkerVersion`
    per upload, the `WorkerRollout` that deploys each new version through its canary and gate, and,
    where asked, cron triggers, custom domains and routes. Uploads are identified by each module's
    SHA-256, so an unchanged script shows no diff and a changed one always does."""

    script: cloudflare.Worker
    worker_version: cloudflare.WorkerVersion
    rollout: WorkerRollout
    script_name: pulumi.Output[str]
    deployed_script_name: pulumi.Output[str]
    """The script name, known once the rollout has deployed a version: what a binding to it waits for."""
    version: str
    """SHA-256 over every uploaded module's name, type and content: changes exactly when one of them does."""
    url: pulumi.Output[str] | None
    """The first custom domain, else workers.dev when enabled and the account's subdomain is known."""

    def __init__(self, name: str, args: WorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:cloudflare:Worker", name, None, opts)
        self._label = name
        self._durable_object_classes = defined_classes(name, args.durable_object_migrations)
        _check_args(name, args, self._durable_object_classes)
        account = args.account
        child = pulumi.ResourceOptions(parent=self, provider=account.provider)
        root = (args.modules_root or args.main_module.parent).resolve()
        script_name = resolve_name(name, args.script_name, WORKER_SCRIPT)
        main_module = _main_module_name(name, args.main_module, root)
        uploaded_main = _bundle(name, args.main_module) if args.bundle else args.main_module
        content_file = _provider_path(uploaded_main)
        files = _extra_modules(name, args.main_module, args.modules, root)
        self.version = _version(main_module, uploaded_main, files)
        bindings = [binding.entry for binding in args.bindings]
        if args.version_binding:
            bindings.append(plain_text(args.version_binding, self.version).entry)
        _check_unique(name, "binding", [str(binding.name) for binding in bindings])
        # Read from the live script whenever the upload changes: only the steps it lacks go with it.
        pending = (
            DurableObjectMigrations(
                f"{name}-durable-object-migrations",
                account_id=account.account_id,
                script_name=script_name,
                credential_setting=account.api_token_setting,
                migrations=[migration.step() for migration in args.durable_object_migrations],
                upload_digest=_upload_digest(main_module, self.version, args, bindings),
                opts=pulumi.ResourceOptions(parent=self),
            ).pending
            if args.durable_object_migrations
            else None
        )

        self.script = cloudflare.Worker(
            name,
            account_id=account.account_id,
            name=script_name,
            # Cloudflare reads an unset sampling rate back as 1 (every request): said here, a refresh
            # finds what the program declares.
            observability=cloudflare.WorkerObservabilityArgs(
                enabled=args.observability, head_sampling_rate=args.log_sampling_rate
            ),
            # Declared either way, so the account's default never decides it.
            subdomain=cloudflare.WorkerSubdomainArgs(enabled=args.workers_dev, previews_enabled=args.workers_dev),
            opts=child,
        )
        self.script_name = self.script.name
        self.worker_version = cloudflare.WorkerVersion(
            f"{name}-version",
            account_id=account.account_id,
            worker_id=self.script.id,
            main_module=main_module,
            modules=[
                cloudflare.WorkerVersionModuleArgs(
                    name=main_module,
                    content_type=_ES_MODULE,
                    content_file=content_file,
                    content_sha256=_sha256(uploaded_main),
                ),
                *files.values(),
            ],
            compatibility_date=args.compatibility_date,
            compatibility_flags=list(args.compatibility_flags) or None,
            bindings=bindings,
            migrations=pending.apply(_migrations_args) if pending is not None else None,
            # Uploaded only: the rollout deploys it, through its canary.
            deploy=False,
            # The provider returns the bindings, secret texts included, as the version's state.
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(additional_secret_outputs=["bindings"])
                if any(binding.secret for binding in args.bindings)
                else None,
            ),
        )
        hostnames = [hostname for hostname, _ in args.custom_domains]
        health_url = _health_url(hostnames, args.workers_dev, account.workers_dev_subdomain, self.script_name)
        self.rollout = WorkerRollout(
            f"{name}-rollout",
            account_id=account.account_id,
            script_name=self.script_name,
            credential_setting=account.api_token_setting,
            version_id=self.worker_version.id,
            canary_percentage=args.rollout.canary_percent,
            bake_seconds=args.rollout.canary_minutes * 60,
            poll_seconds=POLL_SECONDS,
            max_error_rate=MAX_ERROR_RATE,
            min_requests=MIN_REQUESTS,
            health_url=health_url,
            all_at_once_reason=pending.apply(lambda steps: _at_once_reason(name, steps)) if pending is not None else "",
            opts=pulumi.ResourceOptions(parent=self),
        )
        # What serves traffic is the deployment: triggers, hostnames and other workers' bindings wait for it.
        self.deployed_script_name = pulumi.Output.all(self.script_name, self.rollout.id).apply(lambda named: named[0])

        if args.crons:
            cloudflare.WorkersCronTrigger(
                f"{name}-crons",
                account_id=account.account_id,
                script_name=self.deployed_script_name,
                schedules=[cloudflare.WorkersCronTriggerScheduleArgs(cron=cron) for cron in args.crons],
                opts=child,
            )
        domains = [
            cloudflare.WorkersCustomDomain(
                f"{name}-domain-{hostname}",
                account_id=account.account_id,
                hostname=hostname,
                service=self.deployed_script_name,
                zone_id=zone_id,
                opts=child,
            )
            for hostname, zone_id in args.custom_domains
        ]
        for pattern, zone_id in args.routes:
            cloudflare.WorkersRoute(
                f"{name}-route-{pattern}",
                pattern=pattern,
                zone_id=zone_id,
                script=self.deployed_script_name,
                opts=child,
            )

        if domains:
            self.url = domains[0].hostname.apply(lambda hostname: f"https://{hostname}")
        elif args.workers_dev and account.workers_dev_subdomain:
            workers_dev = account.workers_dev_subdomain
            self.url = self.deployed_script_name.apply(lambda script: f"https://{script}.{workers_dev}.workers.dev")
        else:
            self.url = None
        self.register_outputs({"script_name": self.script_name, "url": self.url})

    def service_binding(self, name: str) -> Binding:
        """Lets another worker call this one (`env.NAME.fetch(...)`) without a public URL."""
        return service(name, self.deployed_script_name)

    def durable_object_binding(self, name: str, class_name: str) -> Binding:
        """Lets another worker reach this worker's Durable Object class `class_name`."""
        if class_name not in self._durable_object_classes:
            raise ValueError(f"worker {self._label}: its durable_object_migrations do not define {class_name!r}")
        return external_durable_object(name, class_name, self.deployed_script_name)


def _check_args(worker: str, args: WorkerArgs, classes: frozenset[str]) -> None:
    """What Cloudflare would refuse halfway through a deployment, refused before anything is declared."""
    _check_bindings(worker, args.bindings, classes)
    _check_unique(worker, "compatibility flag", args.compatibility_flags)
    _check_unique(worker, "cron", args.crons)
    _check_unique(worker, "custom domain", [hostname for hostname, _ in args.custom_domains])
    _check_unique(worker, "route", [pattern for pattern, _ in args.routes])
    for cron in args.crons:
        if len(cron.split()) != 5:
            raise ValueError(f"worker {worker}: cron {cron!r} must have five fields")
    _check_compatibility_date(worker, args.compatibility_date)
    if not 0 <= args.log_sampling_rate <= 1:
        raise ValueError(f"worker {worker}: log_sampling_rate {args.log_sampling_rate} must be from 0 to 1")
    if not 1 <= args.rollout.canary_percent <= 100:
        raise ValueError(f"worker {worker}: rollout canary_percent {args.rollout.canary_percent} must be from 1 to 100")
    if not 0 <= args.rollout.canary_minutes <= _MAX_CANARY_MINUTES:
        raise ValueError(
            f"worker {worker}: rollout canary_minutes {args.rollout.canary_minutes} "
            f"must be from 0 to {_MAX_CANARY_MINUTES}"
        )
    if args.bundle:
        bundled = [module for module in args.modules if _MODULE_CONTENT_TYPES.get(module.suffix) == _ES_MODULE]
        if bundled:
            raise ValueError(f"worker {worker}: {bundled[0]} is an ES module, which the bundle already holds")


def _check_bindings(worker: str, bindings: Sequence[Binding], classes: frozenset[str]) -> None:
    for binding in bindings:
        own_class = binding.type == "durable_object_namespace" and binding.entry.script_name is None
        if own_class and binding.entry.class_name not in classes:
            raise ValueError(
                f"worker {worker}: binding {binding.name} names class {binding.entry.class_name!r}, "
                "which its durable_object_migrations do not define"
            )


def _check_unique(worker: str, what: str, values: Sequence[str]) -> None:
    repeated = sorted(value for value, count in Counter(values).items() if count > 1)
    if repeated:
        raise ValueError(f"worker {worker}: {what} names must be unique; repeated: {', '.join(repeated)}")


def _check_compatibility_date(worker: str, date: str) -> None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        try:
            datetime.date.fromisoformat(date)
            return
        except ValueError:
            pass
    raise ValueError(f"worker {worker}: compatibility_date {date!r} must be a date, YYYY-MM-DD")


def _main_module_name(worker: str, main_module: Path, root: Path) -> str:
    if _MODULE_CONTENT_TYPES.get(main_module.suffix) != _ES_MODULE:
        raise ValueError(f"worker {worker}: the main module {main_module} must be an ES module (.js or .mjs)")
    return _upload_name(worker, main_module, root)


def _extra_modules(
    worker: str, main_module: Path, modules: Sequence[Path], root: Path
) -> dict[str, cloudflare.WorkerVersionModuleArgs]:
    main_name = _upload_name(worker, main_module, root)
    files: dict[str, cloudflare.WorkerVersionModuleArgs] = {}
    for module in modules:
        content_type = _MODULE_CONTENT_TYPES.get(module.suffix)
        if content_type is None:
            supported = ", ".join(_MODULE_CONTENT_TYPES)
            raise ValueError(f"worker {worker}: module {module} is not one of the supported types: {supported}")
        part = _upload_name(worker, module, root)
        if part in files or part == main_name:
            raise ValueError(f"worker {worker}: module {part} is given twice")
        files[part] = cloudflare.WorkerVersionModuleArgs(
            name=part, content_type=content_type, content_file=_provider_path(module), content_sha256=_sha256(module)
        )
    return files


def _bundle(worker: str, main_module: Path) -> Path:
    """The main module's bundle, under build/workers at the module's own path in the repository
    (the same on every machine, so the upload's content file is too), made again only when one of
    the files it is made from changed."""
    entry = main_module.resolve()
    place = (
        entry.relative_to(_REPOSITORY)
        if entry.is_relative_to(_REPOSITORY)
        else Path("elsewhere", hashlib.sha256(str(entry).encode()).hexdigest()[:16], entry.name)
    )
    try:
        return _bundled(entry, _BUNDLES / place)
    except subprocess.CalledProcessError as error:
        raise ValueError(f"worker {worker}: esbuild could not bundle {main_module}: {error.stderr.strip()}") from None


def _bundled(entry: Path, bundle: Path) -> Path:
    # Beside the bundle, the SHA-256 of each file it was made from: any later run, in this process or
    # another (every plan and preview is a fresh one), bundles again only when one of them changed.
    sources = bundle.with_suffix(".sources.json")
    if bundle.is_file() and _unchanged(sources):
        return bundle
    node = shutil.which("node")
    if node is None or not (_REPOSITORY / "node_modules" / "esbuild").is_dir():
        raise ValueError(f"bundling {entry.name} needs Node 20+ on PATH and the project's packages: run `npm ci`")
    bundle.parent.mkdir(parents=True, exist_ok=True)
    # The program's own files, run by the node on PATH: no input from outside the repository.
    command = [node, str(_BUNDLER), str(entry)]
    listed = _written_in_place(bundle, lambda partial: _run_bundler([*command, str(partial)]))
    try:
        names = json.loads(listed)
    except json.JSONDecodeError:
        raise ValueError(f"{_BUNDLER} bundled {entry.name} but did not list its sources") from None
    # The bundler and the locked packages make the bytes too; a changed esbuild bundles again.
    made_from = [*names, os.path.relpath(_BUNDLER, _REPOSITORY), "package-lock.json"]
    digests = {name: _sha256(_REPOSITORY / name) for name in made_from}
    _written_in_place(sources, lambda partial: partial.write_text(json.dumps(digests, indent=0, sort_keys=True)))
    return bundle


def _run_bundler(command: list[str]) -> str:
    return subprocess.run(command, cwd=_REPOSITORY, check=True, capture_output=True, text=True).stdout  # noqa: S603


def _unchanged(sources: Path) -> bool:
    try:
        digests = json.loads(sources.read_text(encoding="utf-8"))
        # Paths are as the bundler listed them, relative to the repository (`..` through a linked node_modules).
        return all(_sha256(_REPOSITORY / name) == digest for name, digest in digests.items())
    except (OSError, ValueError):
        return False


def _written_in_place(path: Path, write: Callable[[Path], Any]) -> Any:
    """Write `path` beside its final name and move it there, so runs planning two stacks at once
    never read a half-written file."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        result = write(Path(partial))
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
    return result


def _upload_name(worker: str, module: Path, root: Path) -> str:
    if not module.resolve().is_relative_to(root):
        raise ValueError(f"worker {worker}: module {module} is outside {root}, the modules root")
    return module.resolve().relative_to(root).as_posix()


def _provider_path(path: Path) -> str:
    """The provider reads the file itself, from the same working directory as the program. Inside
    that directory the path is relative, so the state, and plans, are the same on every machine."""
    resolved = path.resolve()
    if not resolved.is_file():
        raise ValueError(f"worker module {path} does not exist")
    working_directory = Path.cwd().resolve()
    return (
        resolved.relative_to(working_directory).as_posix()
        if resolved.is_relative_to(working_directory)
        else str(resolved)
    )


def _health_url(
    hostnames: Sequence[str], workers_dev: bool, subdomain: str | None, script_name: pulumi.Output[str]
) -> pulumi.Input[str] | None:
    """`/healthz` where the worker is served, built from what is known before it is: the rollout
    asks it of the new version, so it cannot wait for the hostnames the rollout comes before."""
    if hostnames:
        return f"https://{hostnames[0]}/healthz"
    if workers_dev and subdomain:
        return script_name.apply(lambda script: f"https://{script}.{subdomain}.workers.dev/healthz")
    return None


def _at_once_reason(worker: str, pending: dict[str, Any]) -> str:
    """Why the version goes to all traffic at once, said in the plan, or empty when it need not."""
    if not pending:
        return ""
    pulumi.log.info(f"worker {worker}: the new version is deployed at once: {_PENDING_MIGRATION}")
    return _PENDING_MIGRATION


def _upload_digest(
    main_module: str, version: str, args: WorkerArgs, bindings: Sequence[cloudflare.WorkerVersionBindingArgs]
) -> pulumi.Output[str]:
    """SHA-256 of everything the version's upload carries besides its migrations: when it changes, a new
    version is uploaded. The script's own settings (logs, workers.dev) are not in it: changing them
    uploads nothing. A secret binding makes it a secret too."""
    return pulumi.Output.from_input(list(bindings)).apply(
        lambda resolved: hashlib.sha256(
            json.dumps(
                {
                    "main_module": main_module,
                    "modules": version,
                    "compatibility_date": args.compatibility_date,
                    "compatibility_flags": list(args.compatibility_flags),
                    "bindings": resolved,
                },
                sort_keys=True,
                default=vars,
            ).encode()
        ).hexdigest()
    )


def _migrations_args(pending: dict[str, Any]) -> cloudflare.WorkerVersionMigrationsArgs | None:
    """The pending steps in the provider's types; None sends no migration with the upload."""
    if not pending:
        return None
    return cloudflare.WorkerVersionMigrationsArgs(
        old_tag=pending.get("old_tag"),
        new_tag=pending["new_tag"],
        steps=[
            cloudflare.WorkerVersionMigrationsStepArgs(
                new_sqlite_classes=step.get("new_sqlite_classes"),
                new_classes=step.get("new_classes"),
                deleted_classes=step.get("deleted_classes"),
                renamed_classes=[
                    cloudflare.WorkerVersionMigrationsStepRenamedClassArgs(from_=pair["from"], to=pair["to"])
                    for pair in step["renamed_classes"]
                ]
                if "renamed_classes" in step
                else None,
                transferred_classes=[
                    cloudflare.WorkerVersionMigrationsStepTransferredClassArgs(
                        from_=move["from"], from_script=move["from_script"], to=move["to"]
                    )
                    for move in step["transferred_classes"]
                ]
                if "transferred_classes" in step
                else None,
            )
            for step in pending["steps"]
        ],
    )


def _version(main_name: str, main_module: Path, files: dict[str, cloudflare.WorkerVersionModuleArgs]) -> str:
    """One hash over every module the upload sends: its name, content type and content."""
    listing = [f"{main_name}\t{_ES_MODULE}\t{_sha256(main_module)}"]
    listing += [f"{part}\t{module.content_type}\t{module.content_sha256}" for part, module in sorted(files.items())]
    return hashlib.sha256("\n".join(listing).encode()).hexdigest()


def _sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes: what the provider itself computes and checks."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
