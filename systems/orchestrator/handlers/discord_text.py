"""Text as Discord accepts it in a message: it refuses content over 2,000 characters outright."""

MAX_CONTENT = 2000


def fitted(content: str) -> str:
    """``content``, cut short with an ellipsis when Discord would refuse it whole."""
    return content if len(content) <= MAX_CONTENT else content[: MAX_CONTENT - 1] + "…"
