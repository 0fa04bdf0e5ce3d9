"""A finding about one credential, and how its expiry date becomes its status."""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["ok", "expiring", "failed", "unknown"]

WARNING_DAYS = 14
"""A credential that expires within this many days is reported, and gets its issue."""


@dataclass(frozen=True)
class Finding:
    credential: str
    """The setting or secret that holds it, e.g. `orchestra:cloudflareApiToken`."""
    stack: str
    status: Status
    expires: str | None
    """ISO date (UTC) on which it stops working; None when it does not expire or nobody says."""
    days_left: int | None
    detail: str
    """One line in the check's own words: never the credential, nor anything an API echoed."""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def by_expiry(credential: str, stack: str, expires_at: datetime | None, now: datetime, what: str) -> Finding:
    """A credential the API accepted: ok, or expiring when it ends within WARNING_DAYS."""
    if expires_at is None:
        return Finding(credential, stack, "ok", None, None, f"{what}; it does not expire")
    expires_at = expires_at.astimezone(UTC)
    days_left = (expires_at.date() - now.astimezone(UTC).date()).days
    status: Status = "expiring" if days_left <= WARNING_DAYS else "ok"
    return Finding(
        credential, stack, status, expires_at.date().isoformat(), days_left, f"{what}; expires in {days_left} days"
    )
