"""What the checks share in reading an API's answer."""

from .finding import Finding
from .http import Answer, Unreachable, exchange

REFUSED = (401, 403)


def unknown(credential: str, stack: str, detail: str) -> Finding:
    return Finding(credential, stack, "unknown", None, None, detail)


def failed(credential: str, stack: str, detail: str) -> Finding:
    return Finding(credential, stack, "failed", None, None, detail)


def ask(credential: str, stack: str, method: str, url: str, headers: dict[str, str]) -> Answer | Finding:
    """The API's answer, or an `unknown` finding when there was none (an outage is no verdict)."""
    try:
        return exchange(method, url, headers)
    except Unreachable as error:
        return unknown(credential, stack, str(error))


def unexpected(credential: str, stack: str, answer: Answer, what: str) -> Finding:
    return unknown(credential, stack, f"{what}: unexpected HTTP {answer.status}")
