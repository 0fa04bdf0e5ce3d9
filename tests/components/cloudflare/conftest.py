from collections.abc import Iterator

import pytest

from tests.components.cloudflare.support import FakeCloudflare
from tests.components.dynamic_provider_support import EchoMocks, RecordingMonitor, recording_monitor, serving


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflare]:
    fake = FakeCloudflare()
    with serving(fake.server):
        yield fake
    fake.database.close()


@pytest.fixture
def monitor() -> RecordingMonitor:
    return recording_monitor(EchoMocks())
