"""One `GET /healthz` per service, judged against the shared contract:
200 `{"status": "ok", "version": "<non-empty>", "checks": {"<name>": "ok", ...}}`, where the
version is the one this deploy produced for the service (a stale deployment reports another)."""

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

MAX_BODY_BYTES = 64 * 1024
"""A health answer is a few hundred bytes; more is not read."""
MAX_SHOWN = 120
"""What a service says is cut to this length before it is printed."""


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
        with requests.get(
            url, timeout=timeout, allow_redirects=False, stream=True, headers={"Accept": "application/json"}
        ) as response:
            status = response.status_code
            # The body is read from the socket here, so its own timeouts and decoding errors are urllib3's.
            body = response.raw.read(MAX_BODY_BYTES, decode_content=True)
    except (requests.Timeout, urllib3.exceptions.ReadTimeoutError):
        return Health(service, url, f"no answer within {timeout:g}s")
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        return Health(service, url, f"cannot connect or read the answer ({shown(type(error).__name__)})")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return Health(service, url, f"HTTP {status}, body is not JSON")
    if not isinstance(document, Mapping):
        return Health(service, url, f"HTTP {status}, body is not a JSON object")
    return _judge(service, url, expected_version, status, document)


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


def shown(value: object) -> str:
    """What a service sent, safe to print on one line of a CI log: control characters escaped
    (no line breaks, so no forged log line or workflow command) and cut short."""
    text = value if isinstance(value, str) else json.dumps(value)
    escaped = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return escaped if len(escaped) <= MAX_SHOWN else escaped[: MAX_SHOWN - 1] + "…"
