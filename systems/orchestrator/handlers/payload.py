"""Fields read from untrusted JSON, checked before anything is written.

Every value a handler stores or sends on comes through here, so what DynamoDB or a
downstream API would reject with an error (a number of more than 38 digits, a string
that cannot be encoded as UTF-8, an item over 400 KB) is refused as a 400 first.
"""

import re
from collections.abc import Mapping
from typing import Any

from .http_api import HttpError

# GitHub's rules: owner is 1-39 letters, digits or inner hyphens; name is letters, digits, . _ -
# and never "." or "..".
REPOSITORY_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.\.?$)[A-Za-z0-9._-]{1,100}")
LOGIN_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?")
SNOWFLAKE_PATTERN = re.compile(r"[0-9]{15,21}")
RUN_ID_PATTERN = re.compile(r"run-[0-9a-f]{16}")
# Interaction tokens are URL-safe text; anything else cannot be part of the follow-up URL.
INTERACTION_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,500}")

# GitHub numbers issues from 1 and stores them as 32-bit integers.
MAX_ISSUE_NUMBER = 2**31 - 1


def text(value: object, where: str, max_length: int) -> str:
    """A non-empty string of at most `max_length` characters that UTF-8 can encode."""
    if not isinstance(value, str) or not value:
        raise HttpError(400, f"{where} must be a non-empty string")
    if len(value) > max_length:
        raise HttpError(400, f"{where} must be at most {max_length} characters")
    if not encodable(value):
        raise HttpError(400, f"{where} is not valid Unicode (a lone surrogate)")
    return value


def matching(value: object, where: str, pattern: re.Pattern[str], shape: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise HttpError(400, f"{where} must be {shape}")
    return value


def repository(value: object, where: str) -> str:
    return matching(value, where, REPOSITORY_PATTERN, "owner/name")


def issue_number(value: object, where: str) -> int:
    # bool is an int in Python but never a JSON number.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ISSUE_NUMBER:
        raise HttpError(400, f"{where} must be an issue number (1 to {MAX_ISSUE_NUMBER})")
    return value


def object_at(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The JSON object under `key`, or an empty one when it is absent or not an object."""
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
