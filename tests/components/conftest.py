import time
import types

import pytest
import urllib3.util.retry


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records urllib3's retry sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(urllib3.util.retry, "time", types.SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded
