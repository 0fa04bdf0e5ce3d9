import socket
import threading
from collections.abc import Iterator

import pytest

from systems.orchestrator.handlers import rest

BODY = b'{"message": "' + b"x" * 85 + b'"}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n" + BODY


@pytest.fixture
def trickling_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server that sends its whole answer, starting at byte ``request.param``, one byte every 20 ms.

    Each byte comes well within the read timeout; the whole answer takes seconds, unless the test
    ends first.
    """
    start: int = request.param
    listener = socket.create_server(("127.0.0.1", 0))
    test_ended = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(ANSWER[:start])
            for index in range(start, len(ANSWER)):
                if test_ended.wait(0.02):
                    return
                try:
                    connection.sendall(ANSWER[index : index + 1])
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/answer"
    test_ended.set()
    thread.join()
    listener.close()


@pytest.mark.parametrize("trickling_server", [0, ANSWER.index(b"\r\n\r\n") + 4], ids=["headers", "body"], indirect=True)
def test_an_answer_trickled_past_the_deadline_is_an_outage(
    trickling_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALL_DEADLINE_SECONDS", "0.5")

    with pytest.raises(rest.Unavailable, match=r"^read the answer: no complete answer within 0.5 seconds$"):
        rest.call("GET", trickling_server, {}, what="read the answer")


@pytest.mark.parametrize("trickling_server", [len(ANSWER) - 2], indirect=True)
def test_an_answer_complete_within_the_deadline_is_returned(
    trickling_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALL_DEADLINE_SECONDS", "30")

    assert rest.call("GET", trickling_server, {}, what="read the answer") == rest.Answer(200, {"message": "x" * 85})
