"""What the tests of code that calls HTTP APIs share: a fake API server that records
every request, a way to run it, Pulumi mocks that keep every registration request,
and the dynamic provider host driven as the Pulumi engine drives it, configured with
the stack's settings as the engine configures it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, TypeVar

import grpc
import pulumi
from pulumi.dynamic import ConfigureRequest, ResourceProvider
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc, resource_pb2
from pulumi.runtime.proto.provider_pb2 import DiffResponse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT = "orchestra"
ResourceProviderT = TypeVar("ResourceProviderT", bound=ResourceProvider)


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


@contextmanager
def provider_host(
    cwd: Path = PROJECT_ROOT, stderr: IO[bytes] | None = None
) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """The dynamic provider host as `pulumi up` starts it: `python -m pulumi.dynamic`
    in the project directory, with nothing added to PYTHONPATH. The CLI shows what the
    host writes to stderr; `stderr` receives it."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    host = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=stderr or subprocess.DEVNULL,
    )
    try:
        assert host.stdout is not None
        port = int(host.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        host.terminate()
        host.wait()


def configured(provider: ResourceProviderT, settings: Mapping[str, str]) -> ResourceProviderT:
    """`provider` after the `configure` the host calls before anything else, with the stack's `settings`."""
    provider.configure(ConfigureRequest(Config(raw_config=dict(settings), project_name=PROJECT)))
    return provider


class HostedProvider:
    """One resource's provider in the real host, driven with the requests the engine sends.

    The engine configures the host first with the stack's settings (`settings`: each one's
    full key and value; secret ones are sent as secrets). The host answers with
    `acceptSecrets: false`, so the engine then sends it every secret as its plain value and
    marks the outputs secret itself (`additionalSecretOutputs`); these requests do the same.
    """

    def __init__(
        self,
        stub: provider_pb2_grpc.ResourceProviderStub,
        provider: ResourceProvider,
        urn: str,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.stub = stub
        self.urn = urn
        self.provider = serialize_provider(provider)
        args = self._struct({key: rpc.wrap_rpc_secret(value) for key, value in (settings or {}).items()}, bare=True)
        configured = stub.Configure(provider_pb2.ConfigureRequest(args=args), timeout=60)
        assert configured.acceptSecrets is False

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        """The checked inputs; fails the test on a check failure."""
        request = provider_pb2.CheckRequest(urn=self.urn, olds=self._struct(olds), news=self._struct(news))
        checked = self.stub.Check(request, timeout=60)
        assert not checked.failures, [f"{failure.property}: {failure.reason}" for failure in checked.failures]
        return self._properties(checked.inputs)

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        created = self.stub.Create(
            provider_pb2.CreateRequest(urn=self.urn, properties=self._struct(inputs)), timeout=60
        )
        return created.id, self._properties(created.properties)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResponse:
        request = provider_pb2.DiffRequest(id=id_, urn=self.urn, olds=self._struct(olds), news=self._struct(news))
        return self.stub.Diff(request, timeout=60)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        request = provider_pb2.UpdateRequest(id=id_, urn=self.urn, olds=self._struct(olds), news=self._struct(news))
        return self._properties(self.stub.Update(request, timeout=60).properties)

    def read(self, id_: str, state: dict[str, Any]) -> dict[str, Any]:
        request = provider_pb2.ReadRequest(id=id_, urn=self.urn, properties=self._struct(state))
        return self._properties(self.stub.Read(request, timeout=60).properties)

    def delete(self, id_: str, state: dict[str, Any]) -> None:
        self.stub.Delete(provider_pb2.DeleteRequest(id=id_, urn=self.urn, properties=self._struct(state)), timeout=60)

    def _struct(self, properties: dict[str, Any], bare: bool = False) -> Any:
        # A loop of its own, as the host uses: `asyncio.run` would unset the thread's loop,
        # which Pulumi's mocks in later tests need.
        loop = asyncio.new_event_loop()
        sent = properties if bare else {**properties, "__provider": self.provider}
        try:
            return loop.run_until_complete(rpc.serialize_properties(sent, {}))
        finally:
            loop.close()

    @staticmethod
    def _properties(struct: Any) -> dict[str, Any]:
        properties = rpc.deserialize_properties(struct)
        properties.pop("__provider", None)
        return properties


@contextmanager
def hosted(provider: ResourceProvider, urn: str, settings: Mapping[str, str]) -> Iterator[HostedProvider]:
    """One command's provider host: started, configured with `settings`, and stopped when the block ends."""
    with provider_host() as stub:
        yield HostedProvider(stub, provider, urn, settings)


def credentials_sent(requests: list[RecordedRequest]) -> set[str]:
    """The `Authorization` header of every request: what a credential switch must change everywhere."""
    return {request.headers.get("authorization", "") for request in requests}
