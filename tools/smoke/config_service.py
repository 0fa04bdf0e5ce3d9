"""What a tenant's client does, done by the smoke run: read the config service with each of the
tenant's API keys (its clients' `TEST_API_KEY` is one of them, delivery.yaml's
`tenant-api-key/<instance>/<key>`), and see a request without a key refused."""

import time
from collections.abc import Callable, Mapping

from .http import NoAnswer, exchange, refusal
from .outcome import Outcome
from .text import shown

SUBJECT = "api keys"


def check_config_service(
    service: str,
    base_url: str,
    api_keys: Mapping[str, str],
    *,
    timeout: float,
    attempts: int,
    retry_delay: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    problem = _check_once(base_url, api_keys, timeout)
    for _ in range(attempts - 1):
        if problem is None:
            break
        sleep(retry_delay)
        problem = _check_once(base_url, api_keys, timeout)
    if problem is not None:
        return Outcome(service, SUBJECT, problem)
    return Outcome(service, SUBJECT, None, f"{', '.join(sorted(api_keys))} accepted, a request without a key refused")


def _check_once(base_url: str, api_keys: Mapping[str, str], timeout: float) -> str | None:
    # One entry at most: a read that costs the tenant's database nothing and changes nothing.
    url = f"{base_url}/config?limit=1"
    try:
        for name, key in sorted(api_keys.items()):
            answer = exchange("GET", url, timeout=timeout, headers={"X-API-Key": key})
            if answer.status != 200:
                return f"key {shown(name)}: GET /config {refusal(answer)}"
            if not isinstance(answer.document.get("entries"), list):
                return f"key {shown(name)}: GET /config HTTP 200 but no entries list"
        keyless = exchange("GET", url, timeout=timeout)
    except NoAnswer as error:
        return str(error)
    if keyless.status != 401:
        return f"GET /config without a key answered HTTP {keyless.status}, not 401"
    return None
