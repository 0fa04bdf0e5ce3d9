"""Values and types shared by the handler tests and their fixtures."""

from datetime import UTC, datetime, timedelta

REGION = "us-east-1"
WEBHOOK_PARAMETER = "/orchestra/test/github-webhook-secret"
START = datetime(2026, 11, 3, 12, 0, 0, tzinfo=UTC)


class FrozenClock:
    """Stands in for ``handlers.clock.now``; time moves only when a test advances it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
