"""A fake `pulumi` CLI for the fleet runner's tests: it answers what the Automation API asks, with
the flags the real CLI (the version requirements.txt pins) accepts and nothing else.

Run as a script through the `pulumi` wrapper `install()` puts first on PATH. Its state lives in the
directory `FAKE_PULUMI_DIR` names:
- `control.json` (written by the test): `fail` {stack: error message} fails that stack's operation;
  `delay` {stack: seconds} makes it slow; `rendezvous` K holds each operation until K operations
  have arrived in its group (the 1st K, the next K, ...), so K stacks provably ran at once, and an
  operation whose group never fills fails after a while; `select_delay` seconds makes `stack select`
  and `stack init` slow, as a backend's round trip is; `outputs` {stack: {name: value}} are what
  `up` leaves as the stack's outputs, `secret_outputs` [name] the ones that are secret; `version`.
- `calls.jsonl`: one line per invocation: its arguments, the stack, start and end times (the
  machine's clock, so intervals of different processes compare), the exit status, and the
  variables of `RECORDED_ENVIRONMENT` it ran with.
- `stacks/<name>.json`: the stacks that exist, with their outputs and history.
"""

import importlib.util
import json
import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Only the tests import pytest: the fake itself starts with the standard library alone, once per call.
    import pytest

PINNED_VERSION = next(
    # The lock's line goes on with its hashes: `pulumi==X.Y.Z \`.
    line.removeprefix("pulumi==").split()[0]
    for line in (Path(__file__).resolve().parents[2] / "requirements.txt").read_text().splitlines()
    if line.startswith("pulumi==")
)
RENDEZVOUS_TIMEOUT_SECONDS = 30
RECORDED_ENVIRONMENT = ("PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER",)
"""Variables that change how the real CLI treats a stack, recorded with each call."""

VALUE, BOOL, OPTIONAL = "value", "bool", "optional"
"""A flag takes a value (`--f v` or `--f=v`), none, or one only as `--f=v` (cobra's NoOptDefVal)."""

# pulumi's root flags, accepted by every command.
GLOBAL_FLAGS = {
    "--color": VALUE,
    "--cwd": VALUE,
    "-C": VALUE,
    "--disable-integrity-checking": BOOL,
    "--emoji": BOOL,
    "--fully-qualify-stack-names": BOOL,
    "--logflow": BOOL,
    "--logtostderr": BOOL,
    "--memprofilerate": VALUE,
    "--non-interactive": BOOL,
    "--profiling": VALUE,
    "--tracing": VALUE,
    "--verbose": VALUE,
    "-v": VALUE,
}
_OPERATION_FLAGS = {
    "--stack": VALUE,
    "-s": VALUE,
    "--config-file": VALUE,
    "--debug": BOOL,
    "--diff": BOOL,
    "--json": BOOL,
    "--message": VALUE,
    "--parallel": VALUE,
    "--suppress-outputs": BOOL,
    "--suppress-progress": BOOL,
    "--suppress-permalink": OPTIONAL,
    "--show-replacement-steps": BOOL,
    "--show-sames": BOOL,
    "--target": VALUE,
    "--exec-kind": VALUE,
    "--exec-agent": VALUE,
    "--client": VALUE,
}
_UPDATE_FLAGS = {
    **_OPERATION_FLAGS,
    "--config": VALUE,
    "--config-path": BOOL,
    "--exclude": VALUE,
    "--expect-no-changes": BOOL,
    "--exclude-dependents": BOOL,
    "--policy-pack": VALUE,
    "--policy-pack-config": VALUE,
    "--refresh": OPTIONAL,
    "--replace": VALUE,
    "--target-replace": VALUE,
    "--target-dependents": BOOL,
    "--show-config": BOOL,
    "--show-reads": BOOL,
    "--show-policy-remediations": BOOL,
}
COMMAND_FLAGS: dict[tuple[str, ...], dict[str, str]] = {
    ("version",): {},
    ("stack", "select"): {"--stack": VALUE, "-s": VALUE, "--create": BOOL, "-c": BOOL, "--secrets-provider": VALUE},
    ("stack", "init"): {
        "--stack": VALUE,
        "-s": VALUE,
        "--secrets-provider": VALUE,
        "--copy-config-from": VALUE,
        "--no-select": BOOL,
        "--teams": VALUE,
    },
    ("stack", "output"): {"--stack": VALUE, "-s": VALUE, "--json": BOOL, "-j": BOOL, "--show-secrets": BOOL},
    ("stack", "history"): {
        "--stack": VALUE,
        "-s": VALUE,
        "--json": BOOL,
        "-j": BOOL,
        "--show-secrets": BOOL,
        "--page-size": VALUE,
        "--page": VALUE,
        "--full-dates": BOOL,
    },
    ("preview",): {
        **_UPDATE_FLAGS,
        "--save-plan": VALUE,
        "--show-secrets": BOOL,
        "--run-program": BOOL,
        "--import-file": VALUE,
        "--attach-debugger": BOOL,
    },
    ("up",): {
        **_UPDATE_FLAGS,
        "--yes": BOOL,
        "-y": BOOL,
        "--skip-preview": BOOL,
        "-f": BOOL,
        "--plan": VALUE,
        "--show-secrets": BOOL,
        "--continue-on-error": BOOL,
        "--run-program": BOOL,
        "--strict": BOOL,
        "--show-full-output": BOOL,
        "--attach-debugger": OPTIONAL,
    },
    ("refresh",): {
        **_OPERATION_FLAGS,
        "--yes": BOOL,
        "-y": BOOL,
        "--skip-preview": BOOL,
        "-f": BOOL,
        "--expect-no-changes": BOOL,
        "--preview-only": BOOL,
        "--run-program": BOOL,
        "--exclude-target": VALUE,
        "--exclude-target-dependents": BOOL,
        "--clear-pending-creates": BOOL,
        "--skip-pending-creates": BOOL,
        "--import-pending-creates": VALUE,
    },
    ("destroy",): {
        **_OPERATION_FLAGS,
        "--yes": BOOL,
        "-y": BOOL,
        "--skip-preview": BOOL,
        "-f": BOOL,
        "--config": VALUE,
        "--config-path": BOOL,
        "--exclude": VALUE,
        "--exclude-protected": BOOL,
        "--target-dependents": BOOL,
        "--remove": BOOL,
        "--preview-only": BOOL,
        "--refresh": OPTIONAL,
        "--run-program": BOOL,
        "--continue-on-error": BOOL,
        "--show-config": BOOL,
        "--show-full-output": BOOL,
    },
}
OPERATIONS: dict[tuple[str, ...], str] = {
    ("preview",): "create",
    ("up",): "create",
    ("refresh",): "refresh",
    ("destroy",): "delete",
}
"""The commands that run the engine, with the step each of the fake's two resources takes."""


class UsageError(Exception):
    pass


def parse(argv: list[str], environment: dict[str, str]) -> tuple[tuple[str, ...], dict[str, list[str]], list[str]]:
    """The command, its flags and its positional arguments, or UsageError where cobra would refuse."""
    words = [arg for arg in argv if not arg.startswith("-")]
    command = next((path for path in COMMAND_FLAGS if tuple(words[: len(path)]) == path), None)
    if command is None:
        raise UsageError(f'unknown command {" ".join(words[:2])!r} for "pulumi"')
    accepted = {**GLOBAL_FLAGS, **COMMAND_FLAGS[command]}
    if command in OPERATIONS and environment.get("PULUMI_DEBUG_COMMANDS") == "true":
        # The CLI registers --event-log only when PULUMI_DEBUG_COMMANDS is set, as the SDK does.
        accepted["--event-log"] = VALUE
    flags: dict[str, list[str]] = {}
    positional: list[str] = []
    remaining = list(argv)
    for word in command:
        remaining.remove(word)
    index = 0
    while index < len(remaining):
        arg = remaining[index]
        index += 1
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        name, has_value, value = arg.partition("=")
        kind = accepted.get(name)
        if kind is None:
            raise UsageError(f"unknown flag: {name}")
        if kind == BOOL:
            if has_value and value not in ("true", "false"):
                raise UsageError(f'invalid argument "{value}" for "{name}" flag')
            flags.setdefault(name, []).append(value if has_value else "true")
        elif kind == OPTIONAL:
            flags.setdefault(name, []).append(value if has_value else "true")
        elif has_value:
            flags.setdefault(name, []).append(value)
        elif index < len(remaining):
            flags.setdefault(name, []).append(remaining[index])
            index += 1
        else:
            raise UsageError(f"flag needs an argument: {name}")
    if len(positional) > (1 if command[0] == "stack" else 0):
        raise UsageError(f"unexpected arguments: {' '.join(positional)}")
    return command, flags, positional


def main(argv: list[str]) -> int:
    state = Path(os.environ["FAKE_PULUMI_DIR"])
    started = time.time()
    stack = None
    code = 255
    refused = None
    try:
        command, flags, positional = parse(argv, dict(os.environ))
        stack = (flags.get("--stack") or flags.get("-s") or positional or [None])[-1]
        code = _answer(state, _control(state), command, flags, stack)
    except UsageError as error:
        refused = str(error)
        print(f"error: {refused}", file=sys.stderr)
    finally:
        record = {
            "argv": argv,
            "stack": stack,
            "start": started,
            "end": time.time(),
            "code": code,
            "refused": refused,
            "environment": {name: os.environ[name] for name in RECORDED_ENVIRONMENT if name in os.environ},
        }
        with (state / "calls.jsonl").open("a") as calls:
            calls.write(json.dumps(record) + "\n")
    return code


def _answer(
    state: Path, control: dict[str, Any], command: tuple[str, ...], flags: dict[str, list[str]], stack: Any
) -> int:
    if command == ("version",):
        print(f"v{control.get('version', PINNED_VERSION)}")
        return 0
    path = state / "stacks" / f"{stack}.json"
    if command in (("stack", "init"), ("stack", "select")):
        # A backend's round trip: long enough for two selections at once to overlap, if they are allowed to.
        time.sleep(float(control.get("select_delay", 0)))
    if command == ("stack", "init"):
        if path.exists():
            print(f"error: stack '{stack}' already exists", file=sys.stderr)
            return 255
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"outputs": {}, "history": []}))
        return 0
    if not path.exists():
        print(f"error: no stack named '{stack}' found", file=sys.stderr)
        return 255
    saved = json.loads(path.read_text())
    if command == ("stack", "select"):
        return 0
    if command == ("stack", "output"):
        secret = set(control.get("secret_outputs", []))
        shown = "--show-secrets" in flags
        print(json.dumps({k: v if shown or k not in secret else "[secret]" for k, v in saved["outputs"].items()}))
        return 0
    if command == ("stack", "history"):
        print(json.dumps(list(reversed(saved["history"]))[: int(flags.get("--page-size", ["1000"])[-1])]))
        return 0
    return _operation(state, control, command, flags, stack, path, saved)


def _operation(
    state: Path,
    control: dict[str, Any],
    command: tuple[str, ...],
    flags: dict[str, list[str]],
    stack: str,
    path: Path,
    saved: dict[str, Any],
) -> int:
    if "rendezvous" in control:
        _rendezvous(state, int(control["rendezvous"]))
    time.sleep(float(control.get("delay", {}).get(stack, 0)))
    failure = control.get("fail", {}).get(stack)
    op = OPERATIONS[command]
    urn = f"urn:pulumi:{stack}::orchestra-tenant::cloudflare:index/worker:Worker::config-service-{stack}"
    stack_urn = f"urn:pulumi:{stack}::orchestra-tenant::pulumi:pulumi:Stack::orchestra-tenant-{stack}"
    steps = [(stack_urn, "same" if op == "create" else op), (urn, op)]
    events: list[dict[str, Any]] = [{"preludeEvent": {"config": {}}}]
    for resource, step in steps:
        metadata = {"op": step, "urn": resource, "type": resource.split("::")[2], "provider": ""}
        events.append({"resourcePreEvent": {"metadata": metadata, "planning": command == ("preview",)}})
        if failure is not None and resource == urn:
            events.append(
                {
                    "diagnosticEvent": {
                        "urn": urn,
                        "prefix": "error: ",
                        "message": f"  error: 1 error occurred:\n\t* {failure}\n",
                        "color": "never",
                        "severity": "error",
                    }
                }
            )
            events.append({"resOpFailedEvent": {"metadata": metadata, "status": 1, "steps": 1}})
            break
        events.append({"resOutputsEvent": {"metadata": metadata, "planning": command == ("preview",)}})
    changes: dict[str, int] = {}
    for _, step in steps[: len(events) - 1]:
        changes[step] = changes.get(step, 0) + 1
    events.append({"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 0, "resourceChanges": changes}})
    events.append({"cancelEvent": {}})
    _send_events(flags.get("--event-log", [None])[-1], events)
    if failure is not None:
        print(f"Diagnostics:\n  {urn}:\n    error: {failure}")
        print("error: update failed", file=sys.stderr)
        return 255
    if command != ("preview",):
        if command == ("up",):
            saved["outputs"] = control.get("outputs", {}).get(stack, {})
        elif command == ("destroy",):
            saved["outputs"] = {}
        saved["history"].append(_history_entry(command[0], changes))
        path.write_text(json.dumps(saved))
    print(f"{command[0]}: {stack} done")
    return 0


def _history_entry(kind: str, changes: dict[str, int]) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {
        "kind": "update" if kind == "up" else kind,
        "startTime": now,
        "endTime": now,
        "message": "",
        "environment": {"exec.kind": "auto.local"},
        "config": {},
        "result": "succeeded",
        "version": 1,
        "resourceChanges": changes,
    }


def _rendezvous(state: Path, size: int) -> None:
    arrivals = state / "arrivals"
    arrivals.mkdir(exist_ok=True)
    index = 0
    while True:
        try:
            os.close(os.open(arrivals / str(index), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            index += 1
    needed = (index // size + 1) * size
    deadline = time.monotonic() + RENDEZVOUS_TIMEOUT_SECONDS
    while len(os.listdir(arrivals)) < needed:
        if time.monotonic() > deadline:
            raise SystemExit(f"rendezvous: operation {index + 1} waited in vain for {size} to run at once")
        time.sleep(0.02)


def _send_events(event_log: str | None, events: list[dict[str, Any]]) -> None:
    lines = [json.dumps({"sequence": n, "timestamp": int(time.time()), **event}) for n, event in enumerate(events)]
    if event_log is None:
        return
    if event_log.startswith("tcp://"):
        # What the CLI does for an SDK that listens (CLI newer than 3.205): the events over gRPC.
        import grpc

        events_pb2 = _events_proto()
        with grpc.insecure_channel(event_log.removeprefix("tcp://")) as channel:
            stream = channel.stream_unary(
                "/pulumirpc.Events/StreamEvents",
                request_serializer=events_pb2.EventRequest.SerializeToString,
                response_deserializer=lambda reply: reply,
            )
            stream(events_pb2.EventRequest(event=line) for line in lines)
    else:
        with open(event_log, "a", encoding="utf-8") as log:
            log.writelines(line + "\n" for line in lines)


def _events_proto() -> Any:
    # The SDK's own generated message, loaded alone: importing the pulumi package costs seconds per call.
    spec = importlib.util.find_spec("pulumi")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "runtime" / "proto" / "events_pb2.py"
    module_spec = importlib.util.spec_from_file_location("fake_pulumi_events_pb2", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _control(state: Path) -> dict[str, Any]:
    path = state / "control.json"
    return json.loads(path.read_text()) if path.exists() else {}


@dataclass(frozen=True)
class Call:
    argv: list[str]
    stack: str | None
    start: float
    end: float
    code: int
    refused: str | None
    """Why the real CLI would refuse these arguments, if it would."""
    environment: dict[str, str]
    """The variables of `RECORDED_ENVIRONMENT` set for this call."""


@dataclass(frozen=True)
class FakePulumi:
    directory: Path

    def control(self, **settings: Any) -> None:
        (self.directory / "control.json").write_text(json.dumps(settings))

    def add_stack(self, name: str, outputs: dict[str, Any] | None = None) -> None:
        (self.directory / "stacks").mkdir(exist_ok=True)
        (self.directory / "stacks" / f"{name}.json").write_text(json.dumps({"outputs": outputs or {}, "history": []}))

    def stacks(self) -> set[str]:
        return {path.stem for path in (self.directory / "stacks").glob("*.json")}

    def calls(self) -> list[Call]:
        path = self.directory / "calls.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [Call(**json.loads(line)) for line in lines]


def install(directory: Path, monkeypatch: "pytest.MonkeyPatch") -> FakePulumi:
    """A `pulumi` first on PATH that runs this file, its state in `directory`."""
    binaries = directory / "bin"
    binaries.mkdir(parents=True)
    wrapper = binaries / "pulumi"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{binaries}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_DIR", str(directory))
    monkeypatch.delenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", raising=False)
    return FakePulumi(directory)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
