"""HTTPS calls to GitHub and Discord: JSON in and out, timeouts, and retries decided once.

Retried, with exponential backoff: 5xx answers, connection failures, and rate limits (429,
and GitHub's secondary rate limit: a 403 that carries ``Retry-After``), waiting what
``Retry-After`` says when that is at most ``RETRY_AFTER_MAX_SECONDS``: a longer wait is not
waited for, so a worker does not sleep through its own timeout. A request still refused after
the retries raises ``Unavailable`` and the queue message is retried later, as does an answer
larger than ``MAX_ANSWER_BYTES`` or one not complete, retries included, within
``CALL_DEADLINE_SECONDS`` (from the environment). Other answers are returned to the caller to
interpret.
"""

import json
import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import urllib3
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util import Retry

from . import contract

TIMEOUT = urllib3.Timeout(connect=5.0, read=15.0)
# Four retries waiting at most this long each stay well inside the worker's default 60 seconds.
RETRY_AFTER_MAX_SECONDS = 10
# Many times the largest answer asked for (a page of 100 issues), and far below the worker's memory:
# an answer that never ends, or unpacks without end, is cut off here.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class Unavailable(Exception):
    """No usable answer after the retries: worth trying again later."""


class _RateLimitAwareRetry(Retry):
    # A 403 with Retry-After is GitHub's secondary rate limit; one without is a real refusal.
    RETRY_AFTER_STATUS_CODES = frozenset({403, 413, 429, 503})

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        # An answer (which always comes with its pool) asking to wait longer than the worker could:
        # the call gives up at once, and the message, received again after its visibility timeout,
        # finds the limit lifted.
        asked = None if response is None else response.headers.get("Retry-After")
        if asked is not None and _pool is not None and self.parse_retry_after(asked) > RETRY_AFTER_MAX_SECONDS:
            raise MaxRetryError(_pool, url, ResponseError(f"asked to wait {asked.strip()} seconds"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


_RETRY = _RateLimitAwareRetry(
    total=4,
    status_forcelist=(500, 502, 503, 504),
    allowed_methods=None,
    backoff_factor=0.5,
    backoff_max=8,
    # Read in full, so that a longer wait is seen as such and not waited for (see increment).
    retry_after_max=24 * 3600,
    raise_on_status=False,
)
# A POST whose answer was lost or late (a read error) may have been carried out: sent again, it
# would dispatch, comment or post twice. Such a call fails instead, and the message is retried.
_RETRY_UNLESS_SENT = _RETRY.new(read=0)
_POOL = urllib3.PoolManager(timeout=TIMEOUT, retries=_RETRY)

# urllib3 warns of each retry with the request's URL, and a Discord follow-up URL holds the
# interaction's token: its own logging stays quiet, and `call` reports failures instead.
logging.getLogger("urllib3").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    """Decoded JSON, or None for an empty or non-JSON body."""


def call(
    method: str, url: str, headers: Mapping[str, str], body: object = None, *, what: str, resendable: bool = False
) -> Answer:
    """One request, retried as described above; ``Unavailable`` if it never got a final answer.

    ``what`` names the request in errors and logs instead of its URL, which may hold a token.

    Every method is retried, POST included: the 5xx and rate-limit answers retried here mean
    the request was not carried out. A POST that met a read error is not (see ``_RETRY_UNLESS_SENT``),
    unless it is ``resendable``: the API makes sending it again return what the first one made.
    A POST past the deadline may have been carried out too: the caller treats it as a lost answer.
    """
    deadline = float(os.environ[contract.CALL_DEADLINE_SECONDS])
    answered: Future[Answer] = Future()

    def request() -> None:
        try:
            answered.set_result(_request(method, url, headers, body, what=what, resendable=resendable))
        except BaseException as error:
            answered.set_exception(error)

    # Each read has a timeout, but a server trickling its answer a byte at a time never meets it:
    # the request runs in its own thread, which the worker stops waiting for at the deadline.
    threading.Thread(target=request, name=f"rest: {what}", daemon=True).start()
    try:
        return answered.result(timeout=deadline)
    except TimeoutError:
        raise Unavailable(f"{what}: no complete answer within {deadline:g} seconds") from None


def _request(method: str, url: str, headers: Mapping[str, str], body: object, *, what: str, resendable: bool) -> Answer:
    encoded = None if body is None else json.dumps(body).encode()
    all_headers = {**headers, **({"Content-Type": "application/json"} if encoded is not None else {})}
    try:
        retries = _RETRY_UNLESS_SENT if method == "POST" and not resendable else _RETRY
        response = _POOL.request(method, url, body=encoded, headers=all_headers, retries=retries, preload_content=False)
        data = response.read(MAX_ANSWER_BYTES + 1)
    except urllib3.exceptions.HTTPError as error:
        # The error's own text may quote the URL; the message names the request and the failure only.
        raise Unavailable(f"{what}: no answer ({type(error).__name__})") from None
    if len(data) > MAX_ANSWER_BYTES:
        # The rest of the answer stays unread: the connection goes with it instead of back to the pool.
        response.close()
        raise Unavailable(f"{what}: answered more than {MAX_ANSWER_BYTES} bytes")
    response.release_conn()
    rate_limited = response.status == 429 or (response.status == 403 and "Retry-After" in response.headers)
    if response.status >= 500 or rate_limited:
        raise Unavailable(f"{what}: answered {response.status} after retries")
    try:
        decoded = json.loads(data) if data else None
    except ValueError:
        decoded = None
    return Answer(response.status, decoded)
