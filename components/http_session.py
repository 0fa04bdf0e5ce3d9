"""HTTP for the dynamic providers: retries, timeouts and failures decided once.

Every provider that calls a REST API during `pulumi up` sends through `send`:
- 429 and 5xx are retried with bounded exponential backoff. A Retry-After is
  honoured, capped so a rate-limited deployment never hangs for long.
- Connect and read timeouts, so a silent server cannot stall a deployment.
- A request that gets no answer raises `ApiError`, whose message never carries
  the request's headers, where the credentials travel. The dynamic provider
  host reports a failure with its full traceback, so the exception is raised
  without its cause.

Interpreting an answer (each API words its errors differently) stays with
each API's client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

TIMEOUT_SECONDS = (10.0, 30.0)  # connect, read

_RETRY_STATUSES = (429, 500, 502, 503, 504)
_ATTEMPTS_AFTER_THE_FIRST = 5
_BACKOFF_FACTOR_SECONDS = 0.5
_BACKOFF_MAX_SECONDS = 8
_RETRY_AFTER_MAX_SECONDS = 30


class ApiError(Exception):
    """An API answered with an error, or did not answer, after any retries."""


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    retry_methods: frozenset[str],
    json_body: Any = None,
) -> requests.Response:
    """The API's final answer to one request, successful or not; raises `ApiError` if none came.

    `retry_methods` are the methods the caller knows are safe to send again:
    a retry may repeat a request the server already carried out.
    """
    retry = Retry(
        total=_ATTEMPTS_AFTER_THE_FIRST,
        status_forcelist=_RETRY_STATUSES,
        allowed_methods=retry_methods,
        backoff_factor=_BACKOFF_FACTOR_SECONDS,
        backoff_max=_BACKOFF_MAX_SECONDS,
        retry_after_max=_RETRY_AFTER_MAX_SECONDS,
        # After the last retry, hand back the API's own error rather than urllib3's.
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    with requests.Session() as session:
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        try:
            return session.request(method, url, json=json_body, headers=dict(headers), timeout=TIMEOUT_SECONDS)
        except (requests.ConnectionError, requests.Timeout) as error:
            # urllib3 words these from the host and URL alone.
            raise ApiError(f"{method} {url} got no answer: {error}") from None
        except requests.RequestException as error:
            # Others (a malformed header, say) may quote what was sent, credentials included.
            raise ApiError(f"{method} {url} could not be sent: {type(error).__name__}") from None


def is_plausible_token(value: object) -> bool:
    """Non-empty, printable and without whitespace: anything else cannot travel in an HTTP header.

    Checking before a request turns a pasted token's trailing newline into a
    clear failure at preview, not an opaque one at deployment.
    """
    return isinstance(value, str) and bool(value) and value.isprintable() and not any(c.isspace() for c in value)
