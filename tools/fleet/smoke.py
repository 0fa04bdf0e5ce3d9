"""The smoke check of one deployed tenant, from its stack's outputs: tools.smoke's contract, one problem or none."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.smoke.health import check
from tools.smoke.outputs import OutputsError, health_urls, service_versions


@dataclass(frozen=True)
class SmokeSettings:
    timeout: float = 10.0
    """Seconds to wait for each answer."""
    attempts: int = 3
    """Tries per service before it fails: a just-deployed worker can take seconds to be served everywhere."""
    retry_delay: float = 5.0


def smoke_problem(stack_name: str, outputs: Mapping[str, Any], settings: SmokeSettings) -> str | None:
    """None when every service in the stack's `healthUrls` is healthy and reports the version
    `serviceVersions` gives it (a stale deployment reports another); else the first problem, one line."""
    source = f"stack {stack_name}"
    try:
        urls = health_urls(outputs, source)
        versions = service_versions(outputs, source, urls)
    except OutputsError as error:
        return str(error)
    for service, url in urls.items():
        health = check(
            service,
            url,
            expected_version=versions[service],
            timeout=settings.timeout,
            attempts=settings.attempts,
            retry_delay=settings.retry_delay,
        )
        if not health.ok:
            return f"{service}: {health.problem}"
    return None
