"""GitHub: a token's expiry is in the header of every call it authenticates; an App's private key
signs a JSON Web Token that `GET /app` accepts or refuses (the key itself never expires)."""

from datetime import UTC, datetime, timedelta

from .answers import REFUSED, ask, failed, unexpected
from .finding import Finding, by_expiry

API_VERSION = "2022-11-28"
EXPIRATION_HEADER = "github-authentication-token-expiration"
# GitHub refuses an App JWT that lives longer than 10 minutes or starts in its future.
JWT_LIFETIME = timedelta(minutes=9)
JWT_CLOCK_SKEW = timedelta(seconds=60)


def check_token(credential: str, stack: str, token: str, api_url: str, now: datetime) -> Finding:
    # `GET /rate_limit` costs no request of the token's quota.
    answer = ask(credential, stack, "GET", f"{api_url}/rate_limit", _headers(f"Bearer {token}"))
    if isinstance(answer, Finding):
        return answer
    if answer.status in REFUSED:
        return failed(credential, stack, f"GitHub refuses the token (HTTP {answer.status})")
    if answer.status != 200:
        return unexpected(credential, stack, answer, "GET /rate_limit")
    header = answer.headers.get(EXPIRATION_HEADER)
    if header is None:
        return by_expiry(credential, stack, None, now, "GitHub accepts the token")
    expires_at = _expiration(header)
    if expires_at is None:
        return failed(credential, stack, f"GitHub accepts the token, but its {EXPIRATION_HEADER} header is unreadable")
    return by_expiry(credential, stack, expires_at, now, "GitHub accepts the token")


def check_app_key(credential: str, stack: str, app_id: str, private_key: str, api_url: str, now: datetime) -> Finding:
    import jwt  # PyJWT, from the queue worker's lock: only this check needs it

    try:
        token = jwt.encode(
            {
                "iat": int((now - JWT_CLOCK_SKEW).timestamp()),
                "exp": int((now + JWT_LIFETIME).timestamp()),
                "iss": app_id,
            },
            private_key,
            algorithm="RS256",
        )
    except (ValueError, TypeError, jwt.PyJWTError):
        # The library's message could quote the key; the finding says what kind of thing is wrong.
        return failed(credential, stack, "the App's private key is not an RSA private key in PEM form")
    answer = ask(credential, stack, "GET", f"{api_url}/app", _headers(f"Bearer {token}"))
    if isinstance(answer, Finding):
        return answer
    if answer.status in REFUSED:
        return failed(credential, stack, f"GitHub refuses a JWT signed with App {app_id}'s key (HTTP {answer.status})")
    if answer.status != 200:
        return unexpected(credential, stack, answer, "GET /app")
    return by_expiry(credential, stack, None, now, f"GitHub accepts the App {app_id}'s key")


def _headers(authorization: str) -> dict[str, str]:
    return {
        "Authorization": authorization,
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
    }


def _expiration(header: str) -> datetime | None:
    """GitHub writes it as `2026-12-13 04:29:19 UTC`, or with an offset: `2026-12-13 04:29:19 -0700`."""
    text = header.strip()
    for form in ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S %z"):
        try:
            parsed = datetime.strptime(text, form)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
