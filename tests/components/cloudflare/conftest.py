import time
import types
from collections.abc import Iterator

import pytest
import urllib3.util.retry

from tests.components.cloudflare.support import FakeCloudflare
from tests.components.dynamic_provider_support import EchoMocks, RecordingMonitor, recording_monitor, serving


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflare]:
    fake = FakeCloudflare()
    with serving(fake.server):
        yield fake
    fake.database.close()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records urllib3's retry sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(urllib3.util.retry, "time", types.SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded


@pytest.fixture
def monitor() -> RecordingMonitor:
    return recording_monitor(EchoMocks())
