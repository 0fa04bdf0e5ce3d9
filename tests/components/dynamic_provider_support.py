"""What the tests of code that calls HTTP APIs share: a fake API server that records
every request, a way to run it, and Pulumi mocks that keep every registration request."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


@dataclass
class Reply:
    status: int
    body: Any
    """Sent as JSON, or as they are when bytes."""
    headers: dict[str, str] = field(default_factory=dict)
    after_handling: bool = False
    """Carry the request out as the API would, then answer with this reply
    instead: an answer lost on its way back."""


class FakeApi:
    """A local HTTP server that records every request and answers it with `answer`,
    unless a test scripts the next replies (`None` answers normally)."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.scripted: deque[Reply | None] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                fake.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        request = RecordedRequest(
            handler.command,
            handler.path,
            {key.lower(): value for key, value in handler.headers.items()},
            handler.rfile.read(length),
        )
        with self._lock:
            self.requests.append(request)
            reply = self.scripted.popleft() if self.scripted else None
            if reply is None or reply.after_handling:
                answered = self.answer(request)
                reply = reply or answered
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        for key, value in {"Content-Type": "application/json", **reply.headers}.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


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
