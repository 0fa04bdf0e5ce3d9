"""One `GET /healthz` per service, judged against the shared contract:
200 `{"status": "ok", "version": "<non-empty>", "checks": {"<name>": "ok", ...}}`, where the
version is the one this deploy produced for the service (a stale deployment reports another)."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .http import NoAnswer, exchange
from .text import shown


@dataclass(frozen=True)
class Health:
    service: str
    url: str
    problem: str | None
    """None when healthy; else one line saying what is wrong."""
    version: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check(
    service: str,
    url: str,
    *,
    expected_version: str | None = None,
    timeout: float,
    attempts: int,
    retry_delay: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Health:
    """Ask until the service is healthy (and at `expected_version`, when given) or `attempts` are
    spent: a just-deployed worker may take a few seconds to be served everywhere."""
    health = _check_once(service, url, expected_version, timeout)
    for _ in range(attempts - 1):
        if health.ok:
            break
        sleep(retry_delay)
        health = _check_once(service, url, expected_version, timeout)
    return health


def _check_once(service: str, url: str, expected_version: str | None, timeout: float) -> Health:
    try:
        answer = exchange("GET", url, timeout=timeout)
    except NoAnswer as error:
        return Health(service, url, str(error))
    return _judge(service, url, expected_version, answer.status, answer.document)


def _judge(service: str, url: str, expected_version: str | None, status: int, document: Mapping[str, Any]) -> Health:
    version = document.get("version")
    checks = document.get("checks")
    failing = (
        [f"{shown(name)}: {shown(result)}" for name, result in checks.items() if result != "ok"]
        if isinstance(checks, Mapping)
        else []
    )
    if status != 200:
        detail = f" ({'; '.join(failing)})" if failing else ""
        return Health(service, url, f"HTTP {status}, status {shown(document.get('status'))}{detail}")
    if document.get("status") != "ok":
        return Health(service, url, f"HTTP 200 but status {shown(document.get('status'))}, expected ok")
    if not isinstance(version, str) or not version.strip():
        return Health(service, url, "HTTP 200 but no version: the deployed version cannot be confirmed")
    if not isinstance(checks, Mapping):
        return Health(service, url, "HTTP 200 but no checks object")
    if failing:
        return Health(service, url, f"HTTP 200 but checks failing: {'; '.join(failing)}")
    if expected_version is not None and version != expected_version:
        return Health(
            service,
            url,
            f"HTTP 200 but version {shown(version)}, not {shown(expected_version)} of this deploy: a stale deployment",
        )
    return Health(service, url, None, version=shown(version))
