"""One HTTPS exchange, with the standard library only: the issue job runs on the runner's Python."""

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 20
MAX_BODY_BYTES = 256 * 1024


class Unreachable(Exception):
    """No HTTP answer at all; one line, without the request's headers."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    """Names in lower case."""
    document: Any
    """The JSON body, or None when the body is not JSON."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A credential sent to one host is never forwarded to the host a redirect names.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def exchange(method: str, url: str, headers: Mapping[str, str], body: Any = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the URLs are the APIs' own, https in the settings
        url,
        data=data,
        method=method,
        headers={"Accept": "application/json", "User-Agent": "orchestra-credential-expiry", **headers}
        | ({"Content-Type": "application/json"} if data is not None else {}),
    )
    try:
        response = _OPENER.open(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        response = error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Unreachable(f"{method} {_without_query(url)}: no answer ({type(reason).__name__})") from None
    with response:
        content = response.read(MAX_BODY_BYTES)
        headers_seen = {key.lower(): value for key, value in response.headers.items()}
        status = int(response.status or 0)
    try:
        document = json.loads(content) if content else None
    except (ValueError, RecursionError):
        document = None
    return Answer(status, headers_seen, document)


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]
