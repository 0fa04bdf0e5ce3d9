"""Fake GitHub and Discord APIs: local HTTP servers that check each request as the real API
would (method, path, headers, body) and keep what it changed, so tests assert on both."""

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.components.dynamic_provider_support import FakeApi, RecordedRequest, Reply

GITHUB_TOKEN = "github_pat_fake_token_for_tests"
BOT_TOKEN = "fake-bot-token-for-tests"
APPLICATION_ID = "1300000000000000001"
TOKEN_USER = "orchestra-machine-user"
APP_SLUG = "orchestra-test-app"


@dataclass
class FakeIssue:
    number: int
    title: str
    labels: list[str] = field(default_factory=lambda: ["ready"])
    state: str = "open"
    pull_request: bool = False


class FakeGitHub(FakeApi):
    """The REST endpoints the worker calls, for any repository; requests must carry ``token``."""

    def __init__(self, token: str = GITHUB_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.app: tuple[str, str, int] | None = None
        """A GitHub App (id, public key PEM, installation id) that mints ``token`` for one repository."""
        self.minted_for: list[list[str]] = []
        self.issues: dict[str, dict[int, FakeIssue]] = {}
        self.workflows: dict[str, set[str]] = {}
        self.dispatches: list[tuple[str, str, dict[str, Any]]] = []
        self.comments: list[tuple[str, int, str]] = []
        self.comment_authors: dict[int, str] = {}
        """Index in ``comments`` → the login of a comment written by someone other than ``token``'s holder."""
        self.merged: dict[str, set[str]] = {}
        """repository → head branches with a merged pull request."""

    def add_issue(self, repository: str, issue: FakeIssue) -> None:
        self.issues.setdefault(repository, {})[issue.number] = issue

    def answer(self, request: RecordedRequest) -> Reply:
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"]
        url = urlsplit(request.path)
        if self.app is not None and (url.path.startswith("/app/") or url.path.endswith("/installation")):
            return self._as_app(request, url.path)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"message": "Bad credentials"})
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        for pattern, route in self._routes():
            match = re.fullmatch(pattern, f"{request.method} {url.path}")
            if match:
                return route(request, query, *match.groups())
        return Reply(404, {"message": "Not Found"})

    def _as_app(self, request: RecordedRequest, path: str) -> Reply:
        assert self.app is not None
        app_id, public_key, installation = self.app
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        assert scheme == "Bearer"
        claims = jwt.decode(token, public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]})
        assert claims["iss"] == app_id
        # GitHub refuses a token that lives longer than 10 minutes or starts in its future.
        assert claims["exp"] - claims["iat"] <= 600 and claims["iat"] <= time.time()
        if request.method == "GET" and re.fullmatch(r"/repos/[^/]+/[^/]+/installation", path):
            return Reply(200, {"id": installation, "app_id": int(app_id), "app_slug": APP_SLUG})
        if request.method == "POST" and path == f"/app/installations/{installation}/access_tokens":
            self.minted_for.append(request.json()["repositories"])
            return Reply(201, {"token": self.token, "expires_at": "2099-01-01T00:00:00Z"})
        return Reply(404, {"message": "Not Found"})

    def _routes(self) -> list[tuple[str, Any]]:
        repo = r"/repos/([^/]+/[^/]+)"
        return [
            ("GET /user", self._user),
            (f"GET {repo}/issues", self._list_issues),
            (f"POST {repo}/actions/workflows/([^/]+)/dispatches", self._dispatch),
            (f"GET {repo}/actions/workflows/([^/]+)/runs", self._workflow_runs),
            (f"GET {repo}/issues/([0-9]+)/comments", self._list_comments),
            (f"POST {repo}/issues/([0-9]+)/comments", self._comment),
            (f"GET {repo}/pulls", self._pulls),
            (f"PATCH {repo}/issues/([0-9]+)", self._update_issue),
        ]

    def holder(self) -> str:
        """The login GitHub shows as the author of what ``token`` writes: the App's bot, or the token's user."""
        return f"{APP_SLUG}[bot]" if self.app is not None else TOKEN_USER

    def _user(self, request: RecordedRequest, query: dict[str, str]) -> Reply:
        if self.app is not None:
            # An installation token is no user's: GitHub refuses it here.
            return Reply(403, {"message": "Resource not accessible by integration"})
        return Reply(200, {"login": TOKEN_USER, "id": 583231, "type": "User"})

    def _list_issues(self, request: RecordedRequest, query: dict[str, str], repository: str) -> Reply:
        assert query["state"] == "open" and query["labels"] == "ready"
        listed = [
            {
                "number": issue.number,
                "title": issue.title,
                "html_url": f"https://github.com/{repository}/issues/{issue.number}",
                **({"pull_request": {"url": "..."}} if issue.pull_request else {}),
            }
            for issue in self.issues.get(repository, {}).values()
            if issue.state == "open" and "ready" in issue.labels
        ]
        return Reply(200, listed)

    def _dispatch(self, request: RecordedRequest, query: dict[str, str], repository: str, workflow: str) -> Reply:
        if workflow not in self.workflows.get(repository, set()):
            return Reply(404, {"message": "Not Found"})
        body = request.json()
        assert set(body) == {"ref", "inputs"} and all(isinstance(v, str) for v in body["inputs"].values())
        self.dispatches.append((repository, workflow, body))
        return Reply(204, b"")

    def _workflow_runs(self, request: RecordedRequest, query: dict[str, str], repository: str, workflow: str) -> Reply:
        assert query["event"] == "workflow_dispatch"
        # Each dispatch started a run named as the orchestra workflow names it (its run-name).
        runs = [
            {"id": index, "display_title": f"orchestra {body['inputs']['run_id']} #{body['inputs']['issue']}"}
            for index, (dispatched_to, dispatched, body) in enumerate(self.dispatches)
            if (dispatched_to, dispatched) == (repository, workflow)
        ]
        return Reply(200, {"total_count": len(runs), "workflow_runs": runs[::-1]})

    def _list_comments(self, request: RecordedRequest, query: dict[str, str], repository: str, number: str) -> Reply:
        # Every comment here was written after the runs the tests start.
        assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", query["since"])
        listed = [
            {"id": index, "body": body, "user": {"login": self.comment_authors.get(index, self.holder())}}
            for index, (commented, issue, body) in enumerate(self.comments)
            if (commented, issue) == (repository, int(number))
        ]
        return Reply(200, listed)

    def _comment(self, request: RecordedRequest, query: dict[str, str], repository: str, number: str) -> Reply:
        self.comments.append((repository, int(number), request.json()["body"]))
        return Reply(201, {"id": len(self.comments)})

    def _pulls(self, request: RecordedRequest, query: dict[str, str], repository: str) -> Reply:
        owner, branch = query["head"].split(":", 1)
        assert owner == repository.split("/")[0]
        merged = branch in self.merged.get(repository, set())
        pulls = [
            {
                "html_url": f"https://github.com/{repository}/pull/{100 + len(branch)}",
                "merged_at": "2026-11-04T00:00:00Z",
            }
        ]
        return Reply(200, pulls if merged else [])

    def _update_issue(self, request: RecordedRequest, query: dict[str, str], repository: str, number: str) -> Reply:
        assert request.json() == {"state": "closed", "state_reason": "completed"}
        self.issues[repository][int(number)].state = "closed"
        return Reply(200, {"number": int(number), "state": "closed"})


class FakeDiscord(FakeApi):
    """Follow-up webhooks of live interactions, and channel messages sent as the bot."""

    def __init__(self) -> None:
        super().__init__()
        self.live_tokens: set[str] = set()
        self.replies: dict[str, list[str]] = {}
        """interaction token → every content the original answer was edited to."""
        self.posts: list[tuple[str, str]] = []
        self.nonces: dict[str, int] = {}
        """nonce → the index in ``posts`` of the message created with it."""

    def answer(self, request: RecordedRequest) -> Reply:
        assert request.headers["user-agent"].startswith("DiscordBot (")
        body = request.json()
        assert body["allowed_mentions"] == {"parse": []}
        assert 1 <= len(body["content"]) <= 2000
        edit = re.fullmatch(rf"/webhooks/{APPLICATION_ID}/([^/]+)/messages/@original", request.path)
        if request.method == "PATCH" and edit:
            assert "authorization" not in request.headers
            if edit[1] not in self.live_tokens:
                return Reply(404, {"message": "Unknown Webhook", "code": 10015})
            self.replies.setdefault(edit[1], []).append(body["content"])
            return Reply(200, {"id": "1", "content": body["content"]})
        post = re.fullmatch(r"/channels/([0-9]+)/messages", request.path)
        if request.method == "POST" and post:
            if request.headers.get("authorization") != f"Bot {BOT_TOKEN}":
                return Reply(401, {"message": "401: Unauthorized", "code": 0})
            nonce = body.get("nonce")
            assert nonce is None or (isinstance(nonce, str) and len(nonce) <= 25)
            if body.get("enforce_nonce") and nonce in self.nonces:
                # Discord returns the message this nonce created instead of creating another.
                index = self.nonces[nonce]
                return Reply(200, {"id": str(index + 1), "content": self.posts[index][1], "nonce": nonce})
            self.posts.append((post[1], body["content"]))
            if nonce is not None:
                self.nonces[nonce] = len(self.posts) - 1
            return Reply(200, {"id": str(len(self.posts)), "content": body["content"], "nonce": nonce})
        return Reply(404, {"message": "404: Not Found", "code": 0})
