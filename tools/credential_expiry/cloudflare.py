"""Cloudflare: the token verify endpoint answers a token's status and expiry. A user token is
verified under /user, an account-owned one under its account: both are asked before it fails."""

from datetime import datetime

from .answers import REFUSED, ask, failed, unexpected
from .finding import Finding, by_expiry

API_URL = "https://api.cloudflare.com/client/v4"


def check_token(credential: str, stack: str, token: str, account_id: str, api_url: str, now: datetime) -> Finding:
    headers = {"Authorization": f"Bearer {token}"}
    refusals = []
    for path in ("/user/tokens/verify", f"/accounts/{account_id}/tokens/verify"):
        answer = ask(credential, stack, "GET", f"{api_url}{path}", headers)
        if isinstance(answer, Finding):
            return answer
        if answer.status in (*REFUSED, 400):
            refusals.append(str(answer.status))
            continue
        if answer.status != 200:
            return unexpected(credential, stack, answer, f"GET {path}")
        return _verified(credential, stack, answer.document, now)
    codes = "/".join(refusals)
    return failed(credential, stack, f"Cloudflare refuses it as a user token and as an account token (HTTP {codes})")


def _verified(credential: str, stack: str, document: object, now: datetime) -> Finding:
    result = document.get("result") if isinstance(document, dict) else None
    status = result.get("status") if isinstance(result, dict) else None
    if status in ("disabled", "expired"):
        return failed(credential, stack, f"Cloudflare says the token is {status}")
    if status != "active":
        return failed(credential, stack, "Cloudflare's verify answer has no status active, disabled or expired")
    expires_on = result.get("expires_on") if isinstance(result, dict) else None
    if expires_on in (None, ""):
        return by_expiry(credential, stack, None, now, "Cloudflare says the token is active")
    try:
        expires_at = datetime.fromisoformat(str(expires_on).replace("Z", "+00:00"))
    except ValueError:
        return failed(credential, stack, "Cloudflare says the token is active, but its expires_on is unreadable")
    return by_expiry(credential, stack, expires_at, now, "Cloudflare says the token is active")
