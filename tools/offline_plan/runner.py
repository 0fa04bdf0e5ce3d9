"""Run a Pulumi program inside Pulumi's mock runtime and return what it declared.

This mirrors the Python language host: configure the runtime's settings, set
the configuration, then `run_in_stack(program)`, which creates the root Stack,
runs the program, registers the stack's outputs and waits for every
outstanding RPC and output. `pulumi.runtime.set_mocks` is not used: it creates
and finishes its own root Stack, so exports would never reach the monitor and
`run_in_stack` could not create the real one.
"""

import asyncio
import contextlib
import contextvars
import gc
import inspect
import os
import runpy
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pulumi.runtime import settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack

from .mock_outputs import DEFAULT_REGION, OfflineMocks, ReferencedStack
from .plan import Plan
from .project_config import ComposedConfig, compose_config, load_project, placeholder
from .recorder import RecordingEngine, RecordingMonitor
from .wire import SECRET

ORGANIZATION = "organization"
"""What the CLI reports for an individual account; programs may read it with `pulumi.get_organization()`."""


def evaluate(
    program: Callable[[], object],
    *,
    project: str = "orchestra",
    stack: str = "dev",
    config: Mapping[str, str] | None = None,
    secret_keys: Iterable[str] = (),
) -> Plan:
    """Run `program` (e.g. a function that builds one component) as a Pulumi program and record it.

    `config` holds fully-qualified keys (`orchestra:logRetentionDays`) with string values,
    as the CLI would pass them; keys in `secret_keys` are secret.
    """
    composed = ComposedConfig(values=dict(config or {}), secret_keys=frozenset(secret_keys))
    return _in_fresh_thread(program, project=project, stack=stack, config=composed, root_directory=None)


def evaluate_project(
    project_dir: Path,
    stack: str = "dev",
    references: Mapping[str, ReferencedStack] | None = None,
    secret_environment: Iterable[str] = (),
) -> Plan:
    """Evaluate the project's program for `stack`, with the configuration the CLI would compose.

    `references`: what each stack the program reads with `pulumi.StackReference` exports, by the
    name it reads it by (`referenced_stack` makes it from that stack's plan). `secret_environment`:
    environment variables the command would be run with holding secrets (a token), given a
    placeholder as a secret setting is.
    """
    project_dir = project_dir.resolve()
    project = load_project(project_dir)
    config = compose_config(project, project_dir, stack)
    program_path = project_dir / project.main

    def program() -> None:
        runpy.run_path(str(program_path), run_name="__main__")

    with (
        _as_program_environment(project_dir),
        _with_environment({name: placeholder(name) for name in secret_environment}),
    ):
        return _in_fresh_thread(
            program,
            project=project.name,
            stack=stack,
            config=config,
            root_directory=project_dir,
            references=references or {},
        )


def referenced_stack(plan: Plan) -> ReferencedStack:
    """What a StackReference to the planned stack reads: its outputs, each secret one a placeholder
    that is still secret (a plan keeps no secret's value), so that a secret reaching a resource
    without its marking is caught as for a secret setting."""
    secret_names = frozenset(name for name, value in plan.outputs.items() if value == SECRET)
    outputs = {
        name: placeholder(f"{plan.stack}:{name}") if name in secret_names else value
        for name, value in plan.outputs.items()
    }
    return ReferencedStack(outputs=outputs, secret_names=secret_names)


def _in_fresh_thread(
    program: Callable[[], object],
    *,
    project: str,
    stack: str,
    config: ComposedConfig,
    root_directory: Path | None,
    references: Mapping[str, ReferencedStack] | None = None,
) -> Plan:
    # The Pulumi runtime keeps its state (root Stack, config, settings) in context variables and
    # needs an event loop of its own. A new thread in an empty context has neither: nothing a
    # previous run or the caller's own Pulumi mocks left behind is visible, and nothing leaks back.
    with _collector_paused(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="offline-plan") as executor:
        fresh_context = contextvars.Context()
        return executor.submit(
            fresh_context.run, _run, program, project, stack, config, root_directory, references or {}
        ).result()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector stays off while a program is evaluated.

    Nearly all a run allocates lives until its plan is made: the SDK modules it loads, the resources,
    their outputs. Each collection would walk the SDKs' hundreds of megabytes of classes again to find
    almost nothing; measured on dev's `make plan`, a third of its CPU time after the imports, for the
    same peak memory. What the run leaves is collected once the collector is back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(
    program: Callable[[], object],
    project: str,
    stack: str,
    config: ComposedConfig,
    root_directory: Path | None,
    references: Mapping[str, ReferencedStack],
) -> Plan:
    monitor = RecordingMonitor(
        OfflineMocks(region=config.values.get("aws:region", DEFAULT_REGION), references=references)
    )
    engine = RecordingEngine()
    settings.configure(
        settings.Settings(
            project=project,
            stack=stack,
            monitor=monitor,
            engine=engine,
            # An update, not a preview, so every mocked output resolves to a value.
            dry_run=False,
            organization=ORGANIZATION,
            root_directory=str(root_directory) if root_directory else None,
        )
    )
    set_all_config(dict(config.values), sorted(config.secret_keys))

    def stack_program() -> Awaitable[None] | None:
        # A program may be `async` (e.g. build components after awaiting a lookup); await it too.
        result = program()
        return result if inspect.isawaitable(result) else None

    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_ignore_unobserved_failures)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run_in_stack(stack_program))
    finally:
        # A failed program can leave tasks pending; cancel them so closing the loop is quiet.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)
    return monitor.plan(project, stack, engine.messages)


def _ignore_unobserved_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # One failed registration fails every output that depends on it. The first failure is
    # raised to the caller; the echoes, reported when their futures are collected, are noise
    # (the Python language host silences them the same way).
    if "never retrieved" not in str(context.get("message", "")):
        loop.default_exception_handler(context)


@contextlib.contextmanager
def _as_program_environment(project_dir: Path) -> Iterator[None]:
    """cwd and `sys.path` as the language host sets them, and the program's modules forgotten afterwards.

    Forgetting the modules the run imported from the project makes a second evaluation (another
    stack) import them afresh, so nothing computed at import time carries over between stacks.
    """
    modules_before = set(sys.modules)
    # The virtualenv may live inside the project; libraries it imported stay loaded.
    environments = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    previous_cwd = os.getcwd()
    sys.path.insert(0, str(project_dir))
    os.chdir(project_dir)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        sys.path.remove(str(project_dir))
        # Decided for every module before any is forgotten: a namespace package finds its
        # directories through its parent package's entry.
        forgotten = [
            name
            for name in set(sys.modules) - modules_before
            if _is_the_projects(sys.modules[name], project_dir, environments)
        ]
        for name in forgotten:
            del sys.modules[name]


def _is_the_projects(module: Any, project_dir: Path, environments: set[Path]) -> bool:
    module_file = getattr(module, "__file__", None)
    # A namespace package (a directory without `__init__.py`) has no file, only its directories.
    places = [module_file] if module_file is not None else list(getattr(module, "__path__", []))
    paths = [Path(place).resolve() for place in places]
    return bool(paths) and all(
        path.is_relative_to(project_dir) and not any(path.is_relative_to(env) for env in environments) for path in paths
    )


@contextlib.contextmanager
def _with_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """The variables set while the program runs, as the command running it would have them; then restored."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
