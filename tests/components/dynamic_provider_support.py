"""What the dynamic-provider tests share: recorded HTTP requests, a running fake
API server, and Pulumi mocks that keep every registration request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[None]:
    """Serves in a thread until the block ends; a short poll interval keeps shutdown quick."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class RecordingMonitor(MockMonitor):
    """Keeps the raw registration requests, to read what the mocks' arguments leave out
    (secret markings, `additionalSecretOutputs`, the pickled provider)."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[resource_pb2.RegisterResourceRequest] = []

    def RegisterResource(self, request: resource_pb2.RegisterResourceRequest) -> Any:
        self.registrations.append(request)
        return super().RegisterResource(request)


class EchoMocks(pulumi.runtime.Mocks):
    """Every resource's outputs are its inputs; `id_input` names the input used as its id."""

    def __init__(self, id_input: str | None = None) -> None:
        self.id_input = id_input

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return (args.inputs[self.id_input] if self.id_input else args.name), args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def recording_monitor(mocks: EchoMocks) -> RecordingMonitor:
    recording = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, preview=False, monitor=recording)
    return recording
