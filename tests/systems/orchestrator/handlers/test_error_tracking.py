"""Unhandled errors reach a Sentry ingest endpoint, a fake one on 127.0.0.1 that reads the
envelopes the SDK sends, with the stack and version set and nothing secret in them."""

import gzip
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sentry_sdk

from systems.orchestrator.handlers import error_tracking, http_api, secret_values, worker
from systems.orchestrator.handlers.http_api import Event, Response
from tests.components.dynamic_provider_support import serving

from .conftest import WorkQueue, put_secret
from .fakes import BOT_TOKEN

PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
PROJECT = "42"
VERSION = "9f" * 32
EMAIL = "someone@example.com"
BEARER = "Bearer ghs_abcdefghijklmnopqrstuvwxyz0123456789"
FORGED_SIGNATURE = "5f" * 64


class FakeIngest:
    """Sentry's envelope endpoint: `POST /api/<project>/envelope/` with the DSN's key in `X-Sentry-Auth`."""

    def __init__(self) -> None:
        self.envelopes: list[list[dict[str, Any]]] = []
        self.raw: list[bytes] = []
        self.received = threading.Event()
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                accepted = self.path == f"/api/{PROJECT}/envelope/" and (
                    f"sentry_key={PUBLIC_KEY}" in self.headers.get("X-Sentry-Auth", "")
                )
                if accepted:
                    ingest.raw.append(body)
                    ingest.envelopes.append([json.loads(line) for line in body.splitlines() if line.strip()])
                    ingest.received.set()
                self.send_response(200 if accepted else 403)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@127.0.0.1:{self.server.server_address[1]}/{PROJECT}"

    def events(self) -> list[dict[str, Any]]:
        """Each envelope's event item (its header line is followed by the event itself)."""
        events = []
        for lines in self.envelopes:
            for header, item in zip(lines[1::2], lines[2::2], strict=False):
                if header.get("type") == "event":
                    events.append(item)
        return events


@pytest.fixture
def ingest() -> Iterator[FakeIngest]:
    fake = FakeIngest()
    with serving(fake.server):
        yield fake


@pytest.fixture(autouse=True)
def fresh_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A container starts the SDK at its first report; each test is a fresh container.
    monkeypatch.setattr(error_tracking, "_started", False)
    yield
    # Back to no client at all: `init()` again would install the SDK's default integrations.
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def reporting(aws: None, ingest: FakeIngest, monkeypatch: pytest.MonkeyPatch) -> FakeIngest:
    """A function's environment in a stack with a DSN, as the infrastructure sets it."""
    monkeypatch.setenv("ERROR_TRACKING_DSN_SECRET_ARN", put_secret("error-tracking-dsn", ingest.dsn))
    monkeypatch.setenv("ERROR_TRACKING_ENVIRONMENT", "prod")
    monkeypatch.setenv("VERSION", VERSION)
    return ingest


def failing_endpoint(event: Event) -> Response:
    # A bug that quotes what it was handling: the secret it had read, an address, a credential.
    token = secret_values.read_secret(event["token_arn"])
    raise RuntimeError(f"lookup failed for {EMAIL} with {BEARER}, token {token}, signature {FORGED_SIGNATURE}")


def test_an_endpoint_s_unhandled_error_is_reported_and_still_raised(reporting: FakeIngest) -> None:
    handler = http_api.endpoint(failing_endpoint)
    with pytest.raises(RuntimeError, match="lookup failed"):
        handler({"token_arn": put_secret("bot-token", BOT_TOKEN), "body": "a request body"}, None)

    assert reporting.received.wait(5)
    [event] = reporting.events()
    assert (event["environment"], event["release"]) == ("prod", VERSION)
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"].startswith("lookup failed for [redacted] with Bearer [redacted], token [redacted]")
    # The frames still say where it broke.
    assert exception["stacktrace"]["frames"][-1]["function"] == "failing_endpoint"
    # (The DSN's public key is in the envelope's header: it is what Sentry files the event by.)
    raw = b"".join(reporting.raw).decode()
    for secret in (BOT_TOKEN, EMAIL, BEARER.split()[1], FORGED_SIGNATURE, "a request body"):
        assert secret not in raw, secret
    assert not {"request", "user", "breadcrumbs", "extra"} & set(event)
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])


def test_a_refused_request_is_no_error_to_report(reporting: FakeIngest) -> None:
    def refusing(event: Event) -> Response:
        raise http_api.HttpError(401, "invalid request signature")

    assert http_api.endpoint(refusing)({}, None)["statusCode"] == 401
    sentry_sdk.flush(1)
    assert reporting.envelopes == []


def test_the_worker_reports_a_bug_and_keeps_the_message(
    reporting: FakeIngest, worker_environment: None, work: WorkQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(cls: type) -> None:
        raise KeyError("an unexpected field")

    monkeypatch.setattr(worker.MessageHandler, "from_environment", classmethod(broken))
    record = {"messageId": "m-1", "receiptHandle": "r", "body": "{}"}
    assert worker.handler({"Records": [record]}, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}

    assert reporting.received.wait(5)
    [event] = reporting.events()
    assert (event["environment"], event["release"]) == ("prod", VERSION)
    assert event["exception"]["values"][0]["type"] == "KeyError"


def test_without_a_dsn_nothing_is_read_or_sent(aws: None, ingest: FakeIngest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ERROR_TRACKING_DSN_SECRET_ARN", raising=False)
    read: list[str] = []
    monkeypatch.setattr(secret_values, "read_secret", read.append)
    error_tracking.report(RuntimeError("a bug"))
    assert (read, error_tracking._started, ingest.envelopes) == ([], False, [])


def test_a_report_that_fails_never_hides_the_error(
    aws: None, ingest: FakeIngest, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:error-tracking-dsn-gone"
    monkeypatch.setenv("ERROR_TRACKING_DSN_SECRET_ARN", missing)
    handler = http_api.endpoint(failing_endpoint)
    with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError, match="lookup failed"):
        handler({"token_arn": put_secret("bot-token", BOT_TOKEN)}, None)
    assert "the error could not be reported: ResourceNotFoundException" in caplog.text
    assert ingest.envelopes == []
