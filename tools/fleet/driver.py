"""One tenant stack's operation through Pulumi's Automation API, reduced to what a fleet run reports."""

import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto
from pulumi.automation import EngineEvent, OpMap, OpType

TENANT_PROJECT = "orchestra-tenant"
POLICY_PACK = Path(__file__).resolve().parents[2] / "policy"
"""The repository's policy pack, which previews and deploys of tenant stacks run as the platform's do."""
STACK_ENVIRONMENT = {"PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER": "true"}
"""A tenant stack has no stack file (tenants/Pulumi.<stack>.yaml) where the fleet runs but the one
its CLI writes: with a passphrase secrets provider, the CLI takes the stack's salt from its state
rather than minting a new one for the same stack on each machine (pulumi/pulumi#17236)."""

_UNCHANGED = frozenset({OpType.SAME, OpType.READ, OpType.REFRESH})
"""Steps that change nothing: a refresh that finds no drift is a `refresh` step too."""
_ERROR_COUNT_LINE = re.compile(r"(error: )?\d+ errors? occurred:?")
_LABEL = re.compile(r"^(code|stdout|stderr): ?")


class Operation(Enum):
    PREVIEW = "preview"
    UP = "up"
    REFRESH = "refresh"
    DESTROY = "destroy"


class DriverError(Exception):
    """The tenant project or the Pulumi CLI cannot be used at all; one line."""


@dataclass(frozen=True)
class StackResult:
    changes: dict[str, int]
    """Resource operations by kind (create, update, delete, replace, ...), unchanged ones left out."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """After `up`: the stack's outputs, secret ones left out."""
    error: str | None = None
    """When the operation failed: its first error line."""


class Driver:
    """Runs operations on the stacks of the tenant project in `project_dir`, with the `pulumi` CLI on PATH."""

    def __init__(self, project_dir: Path) -> None:
        _check_project(project_dir)
        self._project_dir = str(project_dir)
        # `pulumi stack select` and `stack init` rewrite the project's workspace.json (its current stack),
        # and two at once corrupt it (pulumi/pulumi#8186): one at a time. The operations after them all
        # pass --stack, so they run in parallel and never act on another thread's stack.
        self._selecting = threading.Lock()
        try:
            # Once for the whole fleet: it runs `pulumi version` and checks it against the SDK's minimum.
            self._command = auto.PulumiCommand()
        except FileNotFoundError as error:
            raise DriverError("the Pulumi CLI (pulumi) is not installed or not on PATH") from error
        except (auto.InvalidVersionError, subprocess.CalledProcessError) as error:
            raise DriverError(f"the Pulumi CLI on PATH cannot be used: {error}") from error

    def run(self, operation: Operation, stack_name: str, on_change: Callable[[int], None]) -> StackResult:
        """Never raises for a failure of the stack's own operation: that is the result's `error`."""
        events = _Events(on_change)
        stderr: list[str] = []
        try:
            with self._selecting:
                stack = self._stack(operation, stack_name)
            outputs = _run(operation, stack, events.on_event, stderr.append)
        except auto.CommandError as error:
            return StackResult(events.changes(), error=events.first_error or _first_error(stderr or [str(error)]))
        return StackResult(events.changes(), outputs)

    def _stack(self, operation: Operation, stack_name: str) -> auto.Stack:
        options = auto.LocalWorkspaceOptions(pulumi_command=self._command, env_vars=STACK_ENVIRONMENT)
        # A preview or deploy of a new instance file starts its stack; refresh and destroy need one that exists.
        if operation in (Operation.PREVIEW, Operation.UP):
            return auto.create_or_select_stack(stack_name, work_dir=self._project_dir, opts=options)
        return auto.select_stack(stack_name, work_dir=self._project_dir, opts=options)


def _run(
    operation: Operation, stack: auto.Stack, on_event: Callable[[EngineEvent], None], on_error: Callable[[str], None]
) -> dict[str, Any]:
    common: dict[str, Any] = {"color": "never", "on_event": on_event, "on_error": on_error}
    # A refresh runs the program, so providers are configured from this run's settings and token,
    # never from credentials left in the state (a rotated token stays rotated). A destroy cannot:
    # a removed tenant's instance file, which the program reads, is gone.
    if operation is Operation.PREVIEW:
        stack.preview(refresh=True, run_program=True, policy_packs=[str(POLICY_PACK)], **common)
    elif operation is Operation.UP:
        result = stack.up(refresh=True, run_program=True, show_secrets=False, policy_packs=[str(POLICY_PACK)], **common)
        return {name: output.value for name, output in result.outputs.items() if not output.secret}
    elif operation is Operation.REFRESH:
        stack.refresh(run_program=True, show_secrets=False, **common)
    else:
        # Protected resources (prod's D1 and R2) and what they need stay; everything else of the tenant goes.
        stack.destroy(exclude_protected=True, show_secrets=False, **common)
    return {}


class _Events:
    """What the engine events of one operation say: the changes so far and the first error."""

    def __init__(self, on_change: Callable[[int], None]) -> None:
        self._on_change = on_change
        self._steps = 0
        self._summary: OpMap | None = None
        self.first_error: str | None = None

    def on_event(self, event: EngineEvent) -> None:
        if event.resource_pre_event is not None and event.resource_pre_event.metadata.op not in _UNCHANGED:
            self._steps += 1
            self._on_change(self._steps)
        elif event.summary_event is not None:
            self._summary = event.summary_event.resource_changes
        elif (
            event.diagnostic_event is not None
            and event.diagnostic_event.severity == "error"
            and self.first_error is None
        ):
            line = _first_error(event.diagnostic_event.message.splitlines())
            urn = event.diagnostic_event.urn
            self.first_error = f"{urn.rsplit('::', 1)[-1]}: {line}" if urn else line

    def changes(self) -> dict[str, int]:
        summary = self._summary or {}
        # Typed as OpType, the keys arrive as the JSON's strings; both compare equal to the enum.
        return {_op_name(op): count for op, count in summary.items() if op not in _UNCHANGED and count}


def _op_name(op: object) -> str:
    return op.value if isinstance(op, OpType) else str(op)


def _first_error(lines: list[str]) -> str:
    """The line that says what went wrong: the first `error:` line, past a bare "N errors occurred" header."""
    # A command's failure arrives as the SDK's "code: ... stdout: ... stderr: ..." text: the labels go.
    text = [_LABEL.sub("", line.strip()).removeprefix("* ").strip() for line in "\n".join(lines).splitlines()]
    text = [line for line in text if line and not _ERROR_COUNT_LINE.fullmatch(line)]
    for line in text:
        if line.startswith("error:"):
            return line.removeprefix("error:").strip() or line
    return text[-1] if text else "failed without an error message"


def _check_project(project_dir: Path) -> None:
    path = project_dir / "Pulumi.yaml"
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise DriverError(f"{path}: the tenant project is missing (each tenant is a stack of it)") from None
    except (OSError, yaml.YAMLError) as error:
        raise DriverError(f"{path}: not a readable YAML file ({error.__class__.__name__})") from None
    name = document.get("name") if isinstance(document, dict) else None
    if name != TENANT_PROJECT:
        raise DriverError(f"{path}: name: the tenant project must be named {TENANT_PROJECT!r}, got {name!r}")
