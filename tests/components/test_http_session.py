from __future__ import annotations

import socket
import threading
import time
import traceback
import types
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3.util.retry

from components.http_session import ApiError, is_plausible_token, send

SECRET = "secret-token-never-to-be-seen"
Answer = tuple[int, dict[str, str]]


class ScriptedServer:
    """Answers each request with the next scripted status and headers, then 200."""

    def __init__(self) -> None:
        self.answers: deque[Answer] = deque()
        self.methods: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self)

            def do_POST(self) -> None:
                server.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/resource"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.methods.append(handler.command)
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        status, headers = self.answers.popleft() if self.answers else (200, {})
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    thread = threading.Thread(target=scripted.http.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield scripted
    scripted.http.shutdown()
    scripted.http.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records urllib3's retry sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(urllib3.util.retry, "time", types.SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded


def get(url: str, **headers: str) -> Any:
    return send("GET", url, headers=headers, retry_methods=frozenset({"GET"}))


def test_retry_after_is_honoured_up_to_a_cap(server: ScriptedServer, sleeps: list[float]) -> None:
    server.answers.extend([(429, {"Retry-After": "3"}), (503, {"Retry-After": "86400"})])

    response = get(server.url)

    assert response.status_code == 200
    assert server.methods == ["GET"] * 3
    assert sleeps == [3, 30]


def test_server_errors_are_retried_with_bounded_backoff_then_returned(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.answers.extend((500, {}) for _ in range(10))

    response = get(server.url)

    assert response.status_code == 500
    assert len(server.methods) == 6
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_methods_not_declared_safe_to_repeat_are_sent_once(server: ScriptedServer) -> None:
    server.answers.append((503, {}))

    response = send("POST", server.url, headers={}, retry_methods=frozenset({"GET"}), json_body={"a": 1})

    assert response.status_code == 503
    assert server.methods == ["POST"]


def test_no_answer_raises_an_api_error_naming_the_url_not_the_headers() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/resource"

    with pytest.raises(ApiError) as failed:
        get(url, Authorization=f"Bearer {SECRET}")

    assert str(failed.value).startswith(f"GET {url} got no answer: ")
    assert SECRET not in "".join(traceback.format_exception(failed.value))


def test_a_header_that_cannot_be_sent_never_reaches_the_error(server: ScriptedServer) -> None:
    with pytest.raises(ApiError) as failed:
        get(server.url, Authorization=f"Bearer {SECRET}\n")

    assert str(failed.value) == f"GET {server.url} could not be sent: InvalidHeader"
    # The dynamic provider host reports failures with their traceback; the cause must not show.
    assert SECRET not in "".join(traceback.format_exception(failed.value))
    assert server.methods == []


@pytest.mark.parametrize(
    ("value", "plausible"),
    [("cf-token_123", True), ("", False), (f"{SECRET}\n", False), ("two words", False), (None, False), (42, False)],
)
def test_is_plausible_token(value: object, plausible: bool) -> None:
    assert is_plausible_token(value) is plausible
