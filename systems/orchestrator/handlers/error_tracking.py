"""Unhandled errors reported to the stack's Sentry project, when it has one.

The DSN is a secret read by ARN (``ERROR_TRACKING_DSN_SECRET_ARN``); without that variable
nothing is read, imported or sent. The SDK is imported and started at the first error a
container reports, not at load time: the endpoints' cold start pays nothing for it. Each event
carries the stack (``ERROR_TRACKING_ENVIRONMENT``) and the package's hash (``VERSION``), holds no
request, user, local variable or breadcrumb, and is cleared of the container's secrets, e-mail
addresses, credentials and long opaque tokens before it leaves. A failure to report is logged
and never hides the error itself.
"""

import logging
import os
import re
from typing import TYPE_CHECKING, Any, cast

from . import contract, secret_values

if TYPE_CHECKING:
    from sentry_sdk._types import Event, Hint

# How long a report may hold the invocation, at most, to reach Sentry.
FLUSH_SECONDS = 2.0
REDACTED = "[redacted]"

_EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+\.[A-Za-z]{2,}")
_CREDENTIAL = re.compile(r"\b(Bearer|Basic|Bot|token)\s+[^\s,;'\"]+", re.IGNORECASE)
# Keys, signatures, JWTs and tokens: long runs of base64url, hex or JWT characters.
_OPAQUE_TOKEN = re.compile(r"[A-Za-z0-9_\-.+/=]{32,}")
# Parts of an event that can quote a request or a variable: none is sent.
_DROPPED = ("request", "user", "breadcrumbs", "extra")

logger = logging.getLogger(__name__)

_started = False


def report(error: BaseException) -> None:
    """Send `error` to the stack's Sentry project, if it names one; never raises."""
    arn = os.environ.get(contract.ERROR_TRACKING_DSN_SECRET_ARN)
    if not arn:
        return
    try:
        sentry_sdk = _sdk(arn)
        sentry_sdk.capture_exception(error)
        sentry_sdk.flush(timeout=FLUSH_SECONDS)
    except Exception as failure:
        logger.warning("the error could not be reported: %s", type(failure).__name__)


def _sdk(arn: str) -> Any:
    global _started
    import sentry_sdk

    if not _started:
        sentry_sdk.init(
            dsn=secret_values.read_secret(arn),
            environment=os.environ.get(contract.ERROR_TRACKING_ENVIRONMENT),
            release=os.environ.get(contract.VERSION),
            # Only what this module hands it: no logging, threading or HTTP hooks of its own.
            default_integrations=False,
            auto_enabling_integrations=False,
            # No user, no body, no frame's variables: none is collected, and `scrub` drops any left.
            data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
            max_breadcrumbs=0,
            traces_sample_rate=0,
            before_send=scrub,
        )
        _started = True
    return sentry_sdk


def scrub(event: "Event", hint: "Hint | None" = None) -> "Event":
    """The event without what can quote a request or a variable, and with every text that can
    quote data (exception values, the message) cleared of secrets. Identifiers (the release, frames'
    paths and functions) are kept as they are: they are the code's, not the data's."""
    data = cast(dict[str, Any], event)
    for key in _DROPPED:
        data.pop(key, None)
    secrets = secret_values.cached_values()
    for exception in (data.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = _clean(exception["value"], secrets)
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    if isinstance(data.get("message"), str):
        data["message"] = _clean(data["message"], secrets)
    if isinstance(data.get("logentry"), dict):
        data["logentry"] = {
            key: _clean(text, secrets) for key, text in data["logentry"].items() if isinstance(text, str)
        }
    return event


def _clean(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _EMAIL.sub(REDACTED, text)
    text = _CREDENTIAL.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
    return _OPAQUE_TOKEN.sub(REDACTED, text)
