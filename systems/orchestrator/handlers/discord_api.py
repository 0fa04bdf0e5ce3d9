"""The Discord REST API, as the worker uses it: editing deferred answers and posting to channels.

A deferred interaction answer is edited through the application's webhook with the
interaction's token (no bot token; valid 15 minutes). Channel messages are sent as the bot
(``DISCORD_BOT_TOKEN_SECRET_ARN``). No message ever pings anyone.
"""

import os

from . import rest
from .api_urls import DISCORD_API_URL
from .discord_text import fitted
from .secret_values import read_secret

# Discord refuses requests without a User-Agent of this shape.
_USER_AGENT = "DiscordBot (https://github.com/orchestra, 1.0)"


class DiscordRefused(Exception):
    """Discord answered with a final error (an expired token, a missing channel)."""


def edit_reply(token: str, content: str) -> None:
    """Replace a deferred answer's "thinking…" with ``content``."""
    application = os.environ["DISCORD_APPLICATION_ID"]
    _send("PATCH", f"/webhooks/{application}/{token}/messages/@original", content, {}, what="edit the reply")


def post(channel: str, content: str) -> None:
    token = read_secret(os.environ["DISCORD_BOT_TOKEN_SECRET_ARN"])
    _send(
        "POST", f"/channels/{channel}/messages", content, {"Authorization": f"Bot {token}"}, what="post to the channel"
    )


def _send(method: str, path: str, content: str, headers: dict[str, str], *, what: str) -> None:
    body = {"content": fitted(content), "allowed_mentions": {"parse": []}}
    url = os.environ.get("DISCORD_API_URL", DISCORD_API_URL).rstrip("/") + path
    answer = rest.call(method, url, {**headers, "User-Agent": _USER_AGENT}, body, what=what)
    if answer.status >= 400:
        raise DiscordRefused(f"{what}: Discord answered {answer.status}")
