import threading
import time
import types
from collections.abc import Iterator

import pulumi
import pytest
import urllib3.util.retry

from tests.components.cloudflare.support import EchoMocks, FakeCloudflare, RecordingMonitor


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflare]:
    fake = FakeCloudflare()
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    thread.join()
    fake.database.close()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records urllib3's retry sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(urllib3.util.retry, "time", types.SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded


@pytest.fixture
def monitor() -> RecordingMonitor:
    mocks = EchoMocks()
    recording = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, preview=False, monitor=recording)
    return recording
