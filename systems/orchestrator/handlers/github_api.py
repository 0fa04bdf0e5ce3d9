"""The GitHub REST API, as the worker uses it, authenticated as a GitHub App or with a token.

Credentials are one secret (``GITHUB_CREDENTIALS_SECRET_ARN``) holding JSON: either
``{"app_id": "...", "private_key": "-----BEGIN ..."}`` or ``{"token": "github_pat_..."}``.
A GitHub App's installation token is minted for each client, limited to the one repository
the client works on, from a JSON Web Token signed with the App's private key (RS256).
Credentials GitHub refuses (401) were rotated since they were read: they are read afresh and
the message is tried again later, never taken as a refusal of the work itself.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from . import clock, contract, rest
from .payload import MAX_ISSUE_NUMBER
from .secret_values import forget, read_secret

_T = TypeVar("_T")

_API_VERSION = "2022-11-28"
# GitHub refuses App tokens that live longer than 10 minutes, or whose start is in its future.
_JWT_LIFETIME_SECONDS = 540
_JWT_CLOCK_SKEW_SECONDS = 60


class GitHubRefused(Exception):
    """GitHub answered with a final error (not found, forbidden, invalid): retrying will not help."""

    def __init__(self, what: str, status: int, detail: str) -> None:
        super().__init__(f"{what}: GitHub answered {status} {detail}".rstrip())
        self.status = status


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    url: str


class GitHub:
    """A client for one repository (``owner/name``)."""

    def __init__(self, repository: str, api_url: str, credentials: Mapping[str, str], credentials_arn: str) -> None:
        self.repository = repository
        self._api_url = api_url.rstrip("/")
        self._credentials = credentials
        self._credentials_arn = credentials_arn
        self._token: str | None = None
        self._login: str | None = None

    @classmethod
    def for_repository(cls, repository: str) -> "GitHub":
        arn = os.environ[contract.GITHUB_CREDENTIALS_SECRET_ARN]
        credentials = json.loads(read_secret(arn))
        return cls(repository, os.environ[contract.GITHUB_API_URL], credentials, arn)

    def ready_issues(self, label: str, limit: int) -> list[Issue]:
        """Open issues with ``label``, oldest first; pull requests, which the API lists too, left out."""
        issues = self._call(
            "GET",
            f"/repos/{self.repository}/issues?state=open&labels={quote(label)}&sort=created&direction=asc&per_page=100",
            what="list ready issues",
        )
        found = [_issue(item) for item in _objects(issues, "list ready issues") if "pull_request" not in item]
        return found[:limit]

    def dispatch(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None:
        self._call(
            "POST",
            f"/repos/{self.repository}/actions/workflows/{quote(workflow, safe='')}/dispatches",
            {"ref": ref, "inputs": dict(inputs)},
            what=f"dispatch {workflow}",
        )

    def dispatched_run_names(self, workflow: str) -> set[str]:
        """The names (``run-name``) of the workflow's latest 100 dispatched runs."""
        what = f"list the runs of {workflow}"
        answer = self._call(
            "GET",
            f"/repos/{self.repository}/actions/workflows/{quote(workflow, safe='')}/runs"
            "?event=workflow_dispatch&per_page=100",
            what=what,
        )
        runs = _objects(answer.get("workflow_runs") if isinstance(answer, dict) else None, what)
        return {name for run in runs if isinstance(name := run.get("display_title"), str)}

    def own_comment_bodies(self, issue: int, since: datetime) -> list[str]:
        """The bodies of this client's own comments among the issue's first 100 written or edited since ``since``.

        Anyone who may comment can write any text; only the author tells the client's own comments apart.
        """
        what = f"list the comments on #{issue}"
        comments = self._call(
            "GET",
            f"/repos/{self.repository}/issues/{issue}/comments"
            f"?since={quote(since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ'))}&per_page=100",
            what=what,
        )
        login = self._own_login().casefold()
        return [
            body
            for comment in _objects(comments, what)
            if isinstance(body := comment.get("body"), str)
            and isinstance(author := comment.get("user"), dict)
            and str(author.get("login")).casefold() == login
        ]

    def comment(self, issue: int, body: str) -> None:
        self._call(
            "POST", f"/repos/{self.repository}/issues/{issue}/comments", {"body": body}, what=f"comment on #{issue}"
        )

    def merged_pull_request(self, branch: str) -> str | None:
        """The link to the merged pull request from ``branch`` of this repository, or None."""
        owner = self.repository.split("/", 1)[0]
        what = f"find the pull request of {branch}"
        pulls = self._call(
            "GET",
            f"/repos/{self.repository}/pulls?state=closed&head={quote(f'{owner}:{branch}', safe='')}&per_page=10",
            what=what,
        )
        merged = [str(pull.get("html_url")) for pull in _objects(pulls, what) if pull.get("merged_at")]
        return merged[0] if merged else None

    def close_issue(self, issue: int) -> None:
        self._call(
            "PATCH",
            f"/repos/{self.repository}/issues/{issue}",
            {"state": "closed", "state_reason": "completed"},
            what=f"close #{issue}",
        )

    def _call(self, method: str, path: str, body: object = None, *, what: str) -> Any:
        headers = {**_HEADERS, "Authorization": f"Bearer {self._access_token()}"}
        answer = rest.call(method, self._api_url + path, headers, body, what=what)
        if answer.status >= 400:
            raise self._refusal(what, answer)
        return answer.body

    def _refusal(self, what: str, answer: rest.Answer) -> Exception:
        if answer.status == 401:
            # Credentials rotated since this container read them: the retry reads them afresh.
            forget(self._credentials_arn)
            return rest.Unavailable(f"{what}: GitHub refused the credentials (401)")
        return GitHubRefused(what, answer.status, _message(answer.body, self._token))

    def _access_token(self) -> str:
        if self._token is None:
            self._token = self._credentials.get("token") or self._installation_token()
        return self._token

    def _own_login(self) -> str:
        """The login GitHub writes as this client's author: the App's bot, or the token's user."""
        # An App's login comes with its installation, found when its token is minted.
        self._access_token()
        if self._login is None:
            what = "find the token's user"
            self._login = _field(self._call("GET", "/user", what=what), "login", str, what)
        return self._login

    def _installation_token(self) -> str:
        # PyJWT pulls in `cryptography`; only the worker, and only for an App, needs either.
        import jwt

        now = int(clock.now().timestamp())
        app_jwt = jwt.encode(
            {
                "iat": now - _JWT_CLOCK_SKEW_SECONDS,
                "exp": now + _JWT_LIFETIME_SECONDS,
                "iss": self._credentials["app_id"],
            },
            self._credentials["private_key"],
            algorithm="RS256",
        )
        app_headers = {**_HEADERS, "Authorization": f"Bearer {app_jwt}"}
        installation = rest.call(
            "GET",
            f"{self._api_url}/repos/{self.repository}/installation",
            app_headers,
            what="find the App installation",
        )
        if installation.status != 200:
            raise self._refusal("find the App installation", installation)
        installation_id = _field(installation.body, "id", int, "find the App installation")
        # An App acts on GitHub as its bot user, whose login no person can take (``[`` is not allowed in one).
        self._login = _field(installation.body, "app_slug", str, "find the App installation") + "[bot]"
        name = self.repository.split("/", 1)[1]
        minted = rest.call(
            "POST",
            f"{self._api_url}/app/installations/{installation_id}/access_tokens",
            app_headers,
            {"repositories": [name]},
            what="mint an installation token",
        )
        if minted.status != 201:
            raise self._refusal("mint an installation token", minted)
        return _field(minted.body, "token", str, "mint an installation token")


_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": _API_VERSION,
    "User-Agent": "orchestra-orchestrator",
}


def _objects(body: object, what: str) -> list[Mapping[str, Any]]:
    """The list of JSON objects GitHub documents for ``what``.

    Anything else (an HTML page from a proxy, a body cut short) is no answer at all: the
    message is tried again later, as after a 5xx.
    """
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise rest.Unavailable(f"{what}: GitHub's answer is not a list of objects")
    return body


def _field(body: object, name: str, kind: type[_T], what: str) -> _T:
    value = body.get(name) if isinstance(body, dict) else None
    # bool is an int in Python but never a JSON number.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise rest.Unavailable(f"{what}: GitHub's answer has no {name}")
    return value


def _issue(item: Mapping[str, Any]) -> Issue:
    number = item.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_ISSUE_NUMBER:
        raise rest.Unavailable("list ready issues: GitHub's answer has an issue without a number")
    title = _field(item, "title", str, "list ready issues")
    url = _field(item, "html_url", str, "list ready issues")
    return Issue(number, title, url)


def _message(body: object, token: str | None) -> str:
    message = str(body.get("message") or "") if isinstance(body, dict) else ""
    if token:
        # GitHub's message goes on to the run, the logs and Discord; a token echoed in it must not.
        message = message.replace(token, "[token]")
    return message[:200]
