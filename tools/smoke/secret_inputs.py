"""The secret outputs the checks sign in with, from the environment: the deploy step reads each
with `pulumi stack output --show-secrets`, masks it in the log, and passes it here; none is an
argument (which `ps` and logs show) or ever printed."""

import json
from collections.abc import Mapping

from .outputs import OutputsError

ADMIN_TOKEN_VARIABLE = "SMOKE_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not its value
"""The platform stack's `aiWorkerAdminToken`: signs the smoke check in and seeds the knowledge base."""
API_KEYS_VARIABLE = "SMOKE_API_KEYS"
"""A tenant stack's `apiKeys` as `pulumi stack output apiKeys --show-secrets --json` prints it."""


def admin_token(environ: Mapping[str, str]) -> str:
    token = environ.get(ADMIN_TOKEN_VARIABLE, "").strip()
    if not token:
        raise OutputsError(
            f"{ADMIN_TOKEN_VARIABLE} is not set: the AI worker's checks need the stack's aiWorkerAdminToken"
        )
    return token


def api_keys(environ: Mapping[str, str]) -> dict[str, str]:
    """Key name to key; a malformed value is reported without a character of it."""
    text = environ.get(API_KEYS_VARIABLE, "")
    if not text.strip():
        raise OutputsError(f"{API_KEYS_VARIABLE} is not set: the config service's check needs the stack's apiKeys")
    try:
        keys = json.loads(text)
    except ValueError:
        raise OutputsError(f"{API_KEYS_VARIABLE} is not JSON") from None
    if not isinstance(keys, dict) or not keys or not all(isinstance(key, str) and key for key in keys.values()):
        raise OutputsError(f"{API_KEYS_VARIABLE} must be a JSON object of key name to non-empty key")
    return keys
