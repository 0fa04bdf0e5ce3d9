"""Discord: a bot token does not expire; it stops working when it is reset, which `GET /users/@me` shows."""

from datetime import datetime

from .answers import REFUSED, ask, failed, unexpected
from .finding import Finding, by_expiry

API_URL = "https://discord.com/api/v10"


def check_bot_token(credential: str, stack: str, token: str, api_url: str, now: datetime) -> Finding:
    answer = ask(credential, stack, "GET", f"{api_url}/users/@me", {"Authorization": f"Bot {token}"})
    if isinstance(answer, Finding):
        return answer
    if answer.status in REFUSED:
        return failed(credential, stack, f"Discord refuses the bot token (HTTP {answer.status})")
    if answer.status != 200:
        return unexpected(credential, stack, answer, "GET /users/@me")
    return by_expiry(credential, stack, None, now, "Discord accepts the bot token")
