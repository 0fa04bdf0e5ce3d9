"""A mock resource monitor and engine that remember everything the program declares.

The SDK calls the monitor from executor threads, so the records are guarded by
a lock; the plan sorts them, which makes registration order irrelevant.
"""

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor, Mocks
from pulumi.runtime.proto import engine_pb2, resource_pb2

from .plan import STACK_TYPE, Plan, PlannedResource
from .wire import decode_struct, wrap_as_secret

_SEVERITIES = {
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self._lock = threading.Lock()
        self._resources: dict[str, PlannedResource] = {}
        self._stack_urn = ""
        self._outputs: dict[str, Any] = {}
        self._unmarked_secrets: list[str] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine qualifies a type with its parent's whole type chain (`a:b:C$d:e:F$aws:s3/bucket:Bucket`)
        # and not with the root stack's; MockMonitor keeps only the parent's last type. Plans show real URNs.
        qualified = parent.split("::")[2] if parent else STACK_TYPE
        if qualified != STACK_TYPE:
            type_ = f"{qualified}${type_}"
        return "::".join([f"urn:pulumi:{pulumi.get_stack()}", pulumi.get_project(), type_, name])

    def Invoke(self, request: Any) -> Any:
        with _no_event_loop_left_behind():
            return super().Invoke(request)

    def ReadResource(self, request: Any) -> Any:
        # A read resource (a stack reference) is in the state too, under its own URN.
        with _no_event_loop_left_behind():
            response = super().ReadResource(request)
        with self._lock:
            inputs = decode_struct(request.properties)
            self._resources[response.urn] = PlannedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=True,
                protect=False,
                retain_on_delete=False,
                delete_before_replace=False,
                provider=request.provider or None,
                dependencies=tuple(sorted(set(request.dependencies))),
                inputs=inputs.value,
            )
        return response

    def RegisterResource(self, request: Any) -> resource_pb2.RegisterResourceResponse:
        with _no_event_loop_left_behind():
            return self._register_resource(request)

    def _register_resource(self, request: Any) -> resource_pb2.RegisterResourceResponse:
        with self._lock:
            urn = self.make_urn(request.parent, request.type, request.name)
            # The engine refuses a second registration of a URN; the mock would silently overwrite it.
            if urn in self._resources:
                raise Exception(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            if request.type == STACK_TYPE:
                self._stack_urn = urn
            else:
                inputs = decode_struct(request.object)
                self._unmarked_secrets.extend(f"{urn}: {path}" for path in inputs.unmarked_secrets)
                self._resources[urn] = PlannedResource(
                    urn=urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    custom=request.custom,
                    # Unset means the SDK left the default (and parent inheritance) to the engine: not protected.
                    protect=request.HasField("protect") and request.protect,
                    retain_on_delete=request.HasField("retainOnDelete") and request.retainOnDelete,
                    delete_before_replace=request.deleteBeforeReplace,
                    provider=request.provider or None,
                    dependencies=tuple(sorted(set(request.dependencies))),
                    inputs=inputs.value,
                )
        response = super().RegisterResource(request)
        # The engine, not the SDK, marks outputs such as RandomPassword.result secret; mocks must do it here.
        for key in request.additionalSecretOutputs:
            if key in response.object.fields:
                wrap_as_secret(response.object.fields[key])
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self._stack_urn:
            outputs = decode_struct(request.outputs)
            with self._lock:
                self._outputs = outputs.value
                self._unmarked_secrets.extend(f"outputs: {path}" for path in outputs.unmarked_secrets)
        return super().RegisterResourceOutputs(request)

    def plan(self, project: str, stack: str, diagnostics: list[str]) -> Plan:
        with self._lock:
            return Plan(
                project=project,
                stack=stack,
                stack_urn=self._stack_urn,
                resources=tuple(self._resources[urn] for urn in sorted(self._resources)),
                outputs=self._outputs,
                unmarked_secrets=tuple(sorted(set(self._unmarked_secrets))),
                diagnostics=tuple(sorted(set(diagnostics))),
            )


class RecordingEngine:
    """Stands in for the engine's log service; keeps what the program reports instead of printing it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[str] = []

    def Log(self, request: Any) -> None:
        severity = _SEVERITIES.get(request.severity)
        # Debug messages are the SDK narrating its own RPCs.
        if severity is not None:
            with self._lock:
                self.messages.append(f"{severity}: {request.message}")


@contextlib.contextmanager
def _no_event_loop_left_behind() -> Iterator[None]:
    """MockMonitor answers through Pulumi's `_sync_await`, which gives the SDK's worker thread a new
    event loop of its own and never closes it. Left open, such a loop is collected some time after
    the run, possibly after its sockets, and its `__del__` then fails; so it is closed here."""
    policy = asyncio.get_event_loop_policy()
    try:
        policy.get_event_loop()
        had_loop = True
    except RuntimeError:
        had_loop = False
    try:
        yield
    finally:
        if not had_loop:
            try:
                leftover = policy.get_event_loop()
            except RuntimeError:
                leftover = None
            if leftover is not None:
                leftover.close()
                policy.set_event_loop(None)
