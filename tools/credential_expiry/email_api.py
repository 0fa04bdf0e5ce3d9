"""The email API (Resend-compatible): keys do not expire. `GET /domains` is its cheapest read; a
key that may only send is refused it with `restricted_api_key`, which still proves the key valid."""

from datetime import datetime
from urllib.parse import urlsplit

from .answers import REFUSED, ask, failed, unexpected
from .finding import Finding, by_expiry


def check_key(credential: str, stack: str, key: str, email_api_url: str, now: datetime) -> Finding:
    answer = ask(credential, stack, "GET", f"{_origin(email_api_url)}/domains", {"Authorization": f"Bearer {key}"})
    if isinstance(answer, Finding):
        return answer
    name = answer.document.get("name") if isinstance(answer.document, dict) else None
    if answer.status == 200 or (answer.status == 401 and name == "restricted_api_key"):
        return by_expiry(credential, stack, None, now, "the email API accepts the key")
    if answer.status in REFUSED:
        return failed(credential, stack, f"the email API refuses the key (HTTP {answer.status})")
    return unexpected(credential, stack, answer, "GET /domains")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
