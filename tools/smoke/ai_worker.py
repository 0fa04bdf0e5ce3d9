"""What a user of the AI worker does, done by the smoke run: sign in, then ask a question the
seeded knowledge base answers. The knowledge base is seeded first when the index is empty.

Sign-in uses the one address the worker sends no mail and, to the admin token, answers the
link's token (systems/ai_worker/worker.js), so the run goes through `/request-login-link` and
`/verify-login` as a user does, and no mailbox receives anything."""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from .http import Answer, NoAnswer, exchange, refusal
from .outcome import Outcome
from .text import redacted, shown

SERVICE = "ai-worker"
SMOKE_TEST_ADDRESS = "smoke-check@smoke.invalid"
QUESTION = "How many minutes is a sign-in link valid before it expires?"
EXPECTED_SOURCE = "ai-worker-sign-in"
"""The knowledge base document that answers QUESTION (systems/ai_worker/knowledge_base.json)."""
EXPECTED_FACT = "15 minutes"
_MENTIONS_FACT = re.compile(r"\b(?:15|fifteen)\b", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class AiWorkerSettings:
    timeout: float
    """Seconds for each sign-in request."""
    ai_timeout: float
    """Seconds for a chat answer or a seeding, which wait on Workers AI."""
    attempts: int
    retry_delay: float
    index_wait: float
    """After seeding, how long the index may take to return the new passages."""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def check_ai_worker(base_url: str, admin_token: str, settings: AiWorkerSettings) -> list[Outcome]:
    """The sign-in outcome, then the chat outcome; chat is not asked without a session. The
    tokens the worker gives are credentials: one it echoes back is never printed."""
    given: list[str] = []
    session: str | None = None
    problem: str | None = None
    for attempt in range(settings.attempts):
        if attempt:
            settings.sleep(settings.retry_delay)
        problem, session = _sign_in(base_url, admin_token, settings.timeout, given)
        if problem is None:
            break
    if session is None:
        outcomes = [
            Outcome(SERVICE, "sign-in", problem),
            Outcome(SERVICE, "chat", "not asked: the sign-in gave no session"),
        ]
    else:
        signed_in = Outcome(SERVICE, "sign-in", None, f"{SMOKE_TEST_ADDRESS}: no mail sent, session issued")
        outcomes = [signed_in, _chat(base_url, admin_token, session, settings)]
    return [replace(o, problem=o.problem and redacted(o.problem, given)) for o in outcomes]


def _sign_in(base_url: str, admin_token: str, timeout: float, given: list[str]) -> tuple[str | None, str | None]:
    """(problem, None) or (None, session token); every token the worker gives is added to `given`."""
    try:
        link = _post(base_url, "/request-login-link", timeout, {"email": SMOKE_TEST_ADDRESS}, admin_token)
        if link.status != 202:
            return f"/request-login-link {refusal(link)}", None
        if link.document.get("email_sent") is not False:
            return "/request-login-link HTTP 202 without email_sent: false, so a mail may have been sent", None
        token = link.document.get("login_token")
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return "/request-login-link HTTP 202 but no sign-in token in the answer", None
        given.append(token)
        verified = _post(base_url, "/verify-login", timeout, {"token": token})
    except NoAnswer as error:
        return str(error), None
    if verified.status != 200:
        return f"/verify-login {refusal(verified)}", None
    session = verified.document.get("session_token")
    if isinstance(session, str):
        given.append(session)
    if not isinstance(session, str) or not _TOKEN.fullmatch(session):
        return "/verify-login HTTP 200 but no session token in the answer", None
    return None, session


def _chat(base_url: str, admin_token: str, session: str, settings: AiWorkerSettings) -> Outcome:
    """Asked until answered well or the tries are spent; an index still filling after a seeding
    is asked again until `index_wait` is over, however many tries that takes."""
    seeded = ""
    filled_by: float | None = None
    tries = 0
    while True:
        tries += 1
        try:
            empty, problem = _judge(_post(base_url, "/api/chat", settings.ai_timeout, {"message": QUESTION}, session))
        except NoAnswer as error:
            empty, problem = False, str(error)
        if empty and not seeded:
            try:
                seeded = _seed(base_url, admin_token, settings.ai_timeout)
            except SeedFailed as error:
                return Outcome(SERVICE, "chat", str(error))
            filled_by = settings.clock() + settings.index_wait
        if problem is None:
            return Outcome(SERVICE, "chat", None, f"answered from {EXPECTED_SOURCE}, mentions {EXPECTED_FACT}{seeded}")
        filling = empty and filled_by is not None and settings.clock() < filled_by
        if tries >= settings.attempts and not filling:
            return Outcome(SERVICE, "chat", f"{problem}{seeded}")
        settings.sleep(settings.retry_delay)


def _judge(answer: Answer) -> tuple[bool, str | None]:
    """Whether the index returned no passage, and the problem (None when the answer is right)."""
    if answer.status != 200:
        return False, f"/api/chat {refusal(answer)}"
    text = answer.document.get("answer")
    sources = answer.document.get("sources")
    if not isinstance(text, str) or not isinstance(sources, list):
        return False, "/api/chat HTTP 200 but no answer and sources"
    if not sources:
        return True, "/api/chat cites no passage: the knowledge base is empty"
    cited = [source.get("id") if isinstance(source, dict) else None for source in sources]
    if EXPECTED_SOURCE not in cited:
        return False, f"/api/chat cites {shown(', '.join(map(str, cited)))}, not {EXPECTED_SOURCE}"
    if not _MENTIONS_FACT.search(text):
        return False, f"/api/chat answer does not mention {EXPECTED_FACT}: {shown(text)}"
    return False, None


class SeedFailed(Exception):
    """`/seed` did not load the knowledge base; one line."""


def _seed(base_url: str, admin_token: str, timeout: float) -> str:
    """What the chat line adds once it has seeded; `/seed` is idempotent."""
    try:
        answer = _post(base_url, "/seed", timeout, {}, admin_token)
    except NoAnswer as error:
        raise SeedFailed(f"the knowledge base is empty and seeding failed: {error}") from None
    version = answer.document.get("version")
    documents = answer.document.get("documents")
    if answer.status != 200 or not isinstance(version, str) or not isinstance(documents, int) or documents < 1:
        raise SeedFailed(f"the knowledge base is empty and /seed answered {refusal(answer)}")
    return f"; seeded the empty knowledge base, version {shown(version)} ({documents} documents)"


def _post(base_url: str, path: str, timeout: float, body: dict[str, str], bearer: str | None = None) -> Answer:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    try:
        return exchange("POST", f"{base_url}{path}", timeout=timeout, headers=headers, body=body)
    except NoAnswer as error:
        raise NoAnswer(f"{path} {error}") from None
