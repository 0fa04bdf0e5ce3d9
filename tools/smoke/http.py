"""One HTTP exchange of the smoke check: a bounded JSON answer, or one line saying why there is none."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

from .text import shown

MAX_BODY_BYTES = 64 * 1024
"""A health answer is a few hundred bytes and a chat answer a few kilobytes; more is not read."""


class NoAnswer(Exception):
    """The service did not answer with a JSON object; the message is one line saying how."""


@dataclass(frozen=True)
class Answer:
    status: int
    document: Mapping[str, Any]


def exchange(
    method: str,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    body: Mapping[str, Any] | None = None,
) -> Answer:
    """Redirects are not followed: a credential in `headers` goes to `url` and nowhere else."""
    try:
        with requests.request(
            method,
            url,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/json", **(headers or {})},
            json=body,
        ) as response:
            status = response.status_code
            # The body is read from the socket here, so its own timeouts and decoding errors are urllib3's.
            content = response.raw.read(MAX_BODY_BYTES, decode_content=True)
    except (requests.Timeout, urllib3.exceptions.ReadTimeoutError):
        raise NoAnswer(f"no answer within {timeout:g}s") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        raise NoAnswer(f"cannot connect or read the answer ({shown(type(error).__name__)})") from None
    try:
        document = json.loads(content)
    except (ValueError, RecursionError):
        raise NoAnswer(f"HTTP {status}, body is not JSON") from None
    if not isinstance(document, Mapping):
        raise NoAnswer(f"HTTP {status}, body is not a JSON object")
    return Answer(status, document)


def refusal(answer: Answer) -> str:
    """An answer other than the one expected, as one line: its status and the error it gives."""
    error = answer.document.get("error")
    return f"HTTP {answer.status}: {shown(error)}" if isinstance(error, str) else f"HTTP {answer.status}"
