"""Reading API Gateway HTTP API (payload format 2.0) events and answering them in JSON."""

import base64
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from . import error_tracking

Event = Mapping[str, Any]
Response = dict[str, Any]
Handle = Callable[[Event], Response]
LambdaHandler = Callable[[Event, object], Response]

# Far above any interaction or webhook this service acts on; GitHub's own cap is 25 MB.
MAX_BODY_BYTES = 1024 * 1024

logger = logging.getLogger(__name__)


class HttpError(Exception):
    """A request the endpoint refuses; it is answered as ``{"error": message}``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def json_response(status_code: int, payload: Mapping[str, Any]) -> Response:
    return {"statusCode": status_code, "headers": {"content-type": "application/json"}, "body": json.dumps(payload)}


def endpoint(handle: Handle) -> LambdaHandler:
    """Turn ``handle`` into a Lambda handler whose ``HttpError``s become JSON error responses;
    any other error is reported, then left to Lambda (API Gateway answers it with a 500)."""

    def handler(event: Event, context: object) -> Response:
        try:
            return handle(event)
        except HttpError as error:
            logger.warning("refused request (%d): %s", error.status_code, error.message)
            return json_response(error.status_code, {"error": error.message})
        except Exception as error:
            error_tracking.report(error)
            raise

    return handler


def headers(event: Event) -> dict[str, str]:
    # Payload 2.0 already lower-cases names; lower-casing again keeps lookups right for any caller.
    return {name.lower(): value for name, value in (event.get("headers") or {}).items()}


def raw_body(event: Event) -> bytes:
    """The body exactly as the client sent it, which is what signatures are computed over.

    API Gateway hands over text as a string, which may hold what no client could have sent
    (a lone surrogate, from a ``\\ud800`` escape in the event): such a body has no bytes to
    verify, and is refused before anything reads it.
    """
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise HttpError(400, "body must be text or base64")
    if not event.get("isBase64Encoded"):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError as error:
            raise HttpError(400, "body is not valid UTF-8 (a lone surrogate)") from error
    try:
        return base64.b64decode(body, validate=True)
    # binascii.Error (a ValueError) for a character outside the alphabet, a plain ValueError outside ASCII.
    except ValueError as error:
        raise HttpError(400, "body is not valid base64") from error


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, which must be UTF-8 (RFC 8259).

    Handed bytes, ``json.loads`` would also take UTF-16 or UTF-32 and encoded surrogates: one
    delivery would then have several spellings, each with its own digest.
    """
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HttpError(400, "body is not valid UTF-8") from error
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise HttpError(400, "body is not valid JSON") from error
    except RecursionError as error:
        # The parser recurses once per level: a body nested thousands deep exhausts the stack.
        raise HttpError(400, "body is nested too deeply") from error
    if not isinstance(payload, dict):
        raise HttpError(400, "body must be a JSON object")
    return payload
