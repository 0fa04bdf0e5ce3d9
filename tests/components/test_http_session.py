from __future__ import annotations

import socket
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from components.http_session import ApiError, is_plausible_token, send
from tests.components.dynamic_provider_support import FakeApi, RecordedRequest, Reply, serving

SECRET = "secret-token-never-to-be-seen"


class ScriptedServer(FakeApi):
    """Answers with an empty 200 unless a test scripts the next replies."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"{self.base_url}/resource"

    def answer(self, request: RecordedRequest) -> Reply:
        return Reply(200, b"")

    @property
    def methods(self) -> list[str]:
        return [request.method for request in self.requests]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    with serving(scripted.server):
        yield scripted


def get(url: str, **headers: str) -> Any:
    return send("GET", url, headers=headers, retry_methods=frozenset({"GET"}))


def test_retry_after_is_honoured_up_to_a_cap(server: ScriptedServer, sleeps: list[float]) -> None:
    server.scripted.extend([Reply(429, b"", {"Retry-After": "3"}), Reply(503, b"", {"Retry-After": "86400"})])

    response = get(server.url)

    assert response.status_code == 200
    assert server.methods == ["GET"] * 3
    assert sleeps == [3, 30]


def test_server_errors_are_retried_with_bounded_backoff_then_returned(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.scripted.extend(Reply(500, b"") for _ in range(10))

    response = get(server.url)

    assert response.status_code == 500
    assert len(server.methods) == 6
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_methods_not_declared_safe_to_repeat_are_sent_once(server: ScriptedServer) -> None:
    server.scripted.append(Reply(503, b""))

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
