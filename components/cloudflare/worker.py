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
    bundle: bool = False
    """Upload the main module bundled with the ES modules it imports and the npm packages they name
    (esbuild, `bundle.mjs`, from the project's node_modules), under the main module's name; `modules`
    then holds only text and data modules, imported beside it. Off by default."""


class Worker(pulumi.ComponentResource):
    """`cloudflare.WorkersScript` + its workers.dev setting, and, where asked, cron triggers,
    custom domains and routes. Uploads are identified by each module's SHA-256, so an
    unchanged script shows no diff and a changed one always does."""

    script: cloudflare.WorkersScript
    script_name: pulumi.Output[str]
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
        migrations = (
            DurableObjectMigrations(
                f"{name}-durable-object-migrations",
                account_id=account.account_id,
                script_name=script_name,
                credential_setting=account.api_token_setting,
                migrations=[migration.step() for migration in args.durable_object_migrations],
                upload_digest=_upload_digest(main_module, self.version, args, bindings),
                opts=pulumi.ResourceOptions(parent=self),
            ).pending.apply(_migrations_args)
            if args.durable_object_migrations
            else None
        )

        self.script = cloudflare.WorkersScript(
            name,
            account_id=account.account_id,
            script_name=script_name,
            main_module=main_module,
            content_file=content_file,
            content_sha256=_sha256(uploaded_main),
            files=files or None,
            compatibility_date=args.compatibility_date,
            compatibility_flags=list(args.compatibility_flags) or None,
            bindings=bindings,
            migrations=migrations,
            # Cloudflare reads an unset sampling rate back as 1 (every request): said here, a refresh
            # finds what the program declares.
            observability=cloudflare.WorkersScriptObservabilityArgs(
                enabled=args.observability, head_sampling_rate=args.log_sampling_rate
            ),
            # The provider returns the bindings, secret texts included, as the script's state.
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(additional_secret_outputs=["bindings"])
                if any(binding.secret for binding in args.bindings)
                else None,
            ),
        )
        self.script_name = self.script.script_name

        subdomain = cloudflare.WorkersScriptSubdomain(
            f"{name}-workers-dev",
            account_id=account.account_id,
            script_name=self.script_name,
            enabled=args.workers_dev,
            previews_enabled=args.workers_dev,
            opts=child,
        )
        if args.crons:
            cloudflare.WorkersCronTrigger(
                f"{name}-crons",
                account_id=account.account_id,
                script_name=self.script_name,
                schedules=[cloudflare.WorkersCronTriggerScheduleArgs(cron=cron) for cron in args.crons],
                opts=child,
            )
        domains = [
            cloudflare.WorkersCustomDomain(
                f"{name}-domain-{hostname}",
                account_id=account.account_id,
                hostname=hostname,
                service=self.script_name,
                zone_id=zone_id,
                opts=child,
            )
            for hostname, zone_id in args.custom_domains
        ]
        for pattern, zone_id in args.routes:
            cloudflare.WorkersRoute(
                f"{name}-route-{pattern}", pattern=pattern, zone_id=zone_id, script=self.script_name, opts=child
            )

        if domains:
            self.url = domains[0].hostname.apply(lambda hostname: f"https://{hostname}")
        elif args.workers_dev and account.workers_dev_subdomain:
            workers_dev = account.workers_dev_subdomain
            self.url = subdomain.script_name.apply(lambda script: f"https://{script}.{workers_dev}.workers.dev")
        else:
            self.url = None
        self.register_outputs({"script_name": self.script_name, "url": self.url})

    def service_binding(self, name: str) -> Binding:
        """Lets another worker call this one (`env.NAME.fetch(...)`) without a public URL."""
        return service(name, self.script_name)

    def durable_object_binding(self, name: str, class_name: str) -> Binding:
        """Lets another worker reach this worker's Durable Object class `class_name`."""
        if class_name not in self._durable_object_classes:
            raise ValueError(f"worker {self._label}: its durable_object_migrations do not define {class_name!r}")
        return external_durable_object(name, class_name, self.script_name)


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
) -> dict[str, cloudflare.WorkersScriptFilesArgs]:
    main_name = _upload_name(worker, main_module, root)
    files: dict[str, cloudflare.WorkersScriptFilesArgs] = {}
    for module in modules:
        content_type = _MODULE_CONTENT_TYPES.get(module.suffix)
        if content_type is None:
            supported = ", ".join(_MODULE_CONTENT_TYPES)
            raise ValueError(f"worker {worker}: module {module} is not one of the supported types: {supported}")
        part = _upload_name(worker, module, root)
        if part in files or part == main_name:
            raise ValueError(f"worker {worker}: module {part} is given twice")
        files[part] = cloudflare.WorkersScriptFilesArgs(
            content_type=content_type, content_file=_provider_path(module), content_sha256=_sha256(module)
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


def _upload_digest(
    main_module: str, version: str, args: WorkerArgs, bindings: Sequence[cloudflare.WorkersScriptBindingArgs]
) -> pulumi.Output[str]:
    """SHA-256 of everything the upload carries besides its migrations: when it changes, the script is
    uploaded again. A secret binding makes it a secret too."""
    return pulumi.Output.from_input(list(bindings)).apply(
        lambda resolved: hashlib.sha256(
            json.dumps(
                {
                    "main_module": main_module,
                    "modules": version,
                    "compatibility_date": args.compatibility_date,
                    "compatibility_flags": list(args.compatibility_flags),
                    "bindings": resolved,
                    "observability": args.observability,
                },
                sort_keys=True,
                default=vars,
            ).encode()
        ).hexdigest()
    )


def _migrations_args(pending: dict[str, Any]) -> cloudflare.WorkersScriptMigrationsArgs | None:
    """The pending steps in the provider's types; None sends no migration with the upload."""
    if not pending:
        return None
    return cloudflare.WorkersScriptMigrationsArgs(
        old_tag=pending.get("old_tag"),
        new_tag=pending["new_tag"],
        steps=[
            cloudflare.WorkersScriptMigrationsStepArgs(
                new_sqlite_classes=step.get("new_sqlite_classes"),
                new_classes=step.get("new_classes"),
                deleted_classes=step.get("deleted_classes"),
                renamed_classes=[
                    cloudflare.WorkersScriptMigrationsStepRenamedClassArgs(from_=pair["from"], to=pair["to"])
                    for pair in step["renamed_classes"]
                ]
                if "renamed_classes" in step
                else None,
                transferred_classes=[
                    cloudflare.WorkersScriptMigrationsStepTransferredClassArgs(
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


def _version(main_name: str, main_module: Path, files: dict[str, cloudflare.WorkersScriptFilesArgs]) -> str:
    """One hash over every module the upload sends: its name, content type and content."""
    listing = [f"{main_name}\t{_ES_MODULE}\t{_sha256(main_module)}"]
    listing += [f"{part}\t{module.content_type}\t{module.content_sha256}" for part, module in sorted(files.items())]
    return hashlib.sha256("\n".join(listing).encode()).hexdigest()


def _sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes: what the provider itself computes and checks."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
