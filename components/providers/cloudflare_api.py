"""A small client for Cloudflare's v4 REST API, used by the Cloudflare dynamic providers.

The providers call the API directly rather than through `pulumi_cloudflare`,
whose import costs seconds and well over 100 MB in every provider process.
"""

from __future__ import annotations

from typing import Any

import requests

from components.http_session import ApiError, send

from .provider import ProviderError

CLOUDFLARE_API_BASE = "https://api.cloudflare.com/client/v4"

# Replaying any call the providers make cannot do anything twice: GET and
# DELETE are idempotent, and each POST is refused if it already took effect
# (an index or metadata index that exists; a migration batch whose
# `INSERT INTO d1_migrations` hits the UNIQUE name and rolls the batch back).
_RETRY_METHODS = frozenset({"GET", "POST", "DELETE"})


def call(method: str, api_base: str, path: str, api_token: str, body: Any = None) -> Any:
    """The `result` of Cloudflare's answer to `method path`; raises `ProviderError` when the call
    failed (no answer, an HTTP error or `success: false`), naming Cloudflare's error codes and messages."""
    try:
        response = send(
            method,
            api_base.rstrip("/") + path,
            headers={"Authorization": f"Bearer {api_token}"},
            retry_methods=_RETRY_METHODS,
            json_body=body,
        )
    except ApiError as error:
        raise ProviderError(str(error)) from None
    envelope = _envelope(response)
    if not response.ok or envelope.get("success") is not True:
        raise ProviderError(f"Cloudflare {method} {path} failed: {_describe(response, envelope)}", response.status_code)
    return envelope.get("result")


def _envelope(response: requests.Response) -> dict[str, Any]:
    """`{success, errors, messages, result}`, or `{}` when the body is not that (a proxy's HTML page)."""
    try:
        envelope = response.json()
    except ValueError:
        return {}
    return envelope if isinstance(envelope, dict) else {}


def _describe(response: requests.Response, envelope: dict[str, Any]) -> str:
    """Status and Cloudflare's own errors; the request, and the token in it, stay out."""
    errors = envelope.get("errors")
    if isinstance(errors, list) and errors:
        detail = "; ".join(
            f"[{error.get('code')}] {error.get('message')}" if isinstance(error, dict) else str(error)
            for error in errors
        )
    else:
        detail = response.text[:200]
    return f"HTTP {response.status_code} {response.reason}: {detail}"
