"""The Discord REST API, as the worker uses it: editing deferred answers and posting to channels.

A deferred interaction answer is edited through the application's webhook with the
interaction's token (no bot token; valid 15 minutes). Channel messages are sent as the bot
(``DISCORD_BOT_TOKEN_SECRET_ARN``) with a nonce Discord enforces: a post sent again with the
same nonce within a few minutes (its answer was lost) returns the message already created
instead of creating another, so a post whose answer is lost is sent again at once. No message
ever pings anyone.
"""

import os

from . import contract, rest
from .discord_text import fitted
from .secret_values import read_secret

# Discord refuses requests without a User-Agent of this shape.
_USER_AGENT = "DiscordBot (https://github.com/orchestra, 1.0)"
# Discord keeps at most this many characters of a nonce.
MAX_NONCE = 25


class DiscordRefused(Exception):
    """Discord answered with a final error (an expired token, a missing channel)."""

    def __init__(self, what: str, status: int) -> None:
        super().__init__(f"{what}: Discord answered {status}")
        self.status = status


def edit_reply(token: str, content: str) -> None:
    """Replace a deferred answer's "thinking…" with ``content``."""
    application = os.environ[contract.DISCORD_APPLICATION_ID]
    _send("PATCH", f"/webhooks/{application}/{token}/messages/@original", content, {}, what="edit the reply")


def post(channel: str, content: str, *, nonce: str) -> None:
    """Post ``content`` to ``channel`` once per ``nonce`` (at most ``MAX_NONCE`` characters)."""
    if not 0 < len(nonce) <= MAX_NONCE:
        raise ValueError(f"a nonce is 1 to {MAX_NONCE} characters, got {len(nonce)}")
    token = read_secret(os.environ[contract.DISCORD_BOT_TOKEN_SECRET_ARN])
    _send(
        "POST",
        f"/channels/{channel}/messages",
        content,
        {"Authorization": f"Bot {token}"},
        what="post to the channel",
        extra={"nonce": nonce, "enforce_nonce": True},
        resendable=True,
    )


def _send(
    method: str,
    path: str,
    content: str,
    headers: dict[str, str],
    *,
    what: str,
    extra: dict[str, object] | None = None,
    resendable: bool = False,
) -> None:
    body = {"content": fitted(content), "allowed_mentions": {"parse": []}, **(extra or {})}
    url = os.environ[contract.DISCORD_API_URL].rstrip("/") + path
    answer = rest.call(method, url, {**headers, "User-Agent": _USER_AGENT}, body, what=what, resendable=resendable)
    if answer.status >= 400:
        raise DiscordRefused(what, answer.status)
