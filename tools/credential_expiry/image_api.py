"""The image API (Ideogram-compatible): keys do not expire and the API has no read open to every
key. `GET /v2/account/usage` answers a key with billing access and gives any other valid key 404;
a key that is wrong or revoked gets 401 or 403. Nothing is generated, so nothing is billed."""

from datetime import datetime
from urllib.parse import urlsplit

from .answers import REFUSED, ask, failed, unexpected
from .finding import Finding, by_expiry

USAGE_PATH = "/v2/account/usage"


def check_key(credential: str, stack: str, key: str, image_api_url: str, now: datetime) -> Finding:
    parts = urlsplit(image_api_url)
    answer = ask(credential, stack, "GET", f"{parts.scheme}://{parts.netloc}{USAGE_PATH}", {"Api-Key": key})
    if isinstance(answer, Finding):
        return answer
    if answer.status in (200, 404):
        return by_expiry(credential, stack, None, now, "the image API accepts the key")
    if answer.status in REFUSED:
        return failed(credential, stack, f"the image API refuses the key (HTTP {answer.status})")
    return unexpected(credential, stack, answer, f"GET {USAGE_PATH}")
