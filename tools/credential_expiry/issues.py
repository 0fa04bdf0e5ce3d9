"""One GitHub issue per credential of a stack, found by its title and label: opened or updated
while the credential expires within the warning days or fails, closed with a comment once it
checks out. An `unknown` finding (the API did not answer) leaves the issue as it is."""

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from .finding import WARNING_DAYS, Finding
from .http import Unreachable, exchange

LABEL = "credential-expiry"
LABEL_COLOR = "D93F0B"
PER_PAGE = 100


class IssueError(Exception):
    """A call to GitHub failed; one line."""


def title(finding: Finding) -> str:
    return f"Credential expiring: {finding.stack} {finding.credential}"


class Repository:
    """The issues of one repository, through the REST API with the job's token."""

    def __init__(self, api_url: str, repository: str, token: str) -> None:
        self._api_url = api_url.rstrip("/")
        self._repository = repository
        self._token = token

    def open_issues(self) -> dict[str, int]:
        """Title to number of each open issue with the label."""
        found: dict[str, int] = {}
        page = 1
        while True:
            items = self._call(
                "GET", f"/issues?state=open&labels={quote(LABEL)}&per_page={PER_PAGE}&page={page}", expect=200
            )
            if not isinstance(items, list):
                raise IssueError("GitHub's list of issues is not a list")
            for item in items:
                if isinstance(item, dict) and "pull_request" not in item:
                    found.setdefault(str(item.get("title")), int(item["number"]))
            if len(items) < PER_PAGE:
                return found
            page += 1

    def ensure_label(self) -> None:
        answer = self._exchange(
            "POST",
            "/labels",
            {"name": LABEL, "color": LABEL_COLOR, "description": "A credential of a stack expires soon or fails"},
        )
        if answer.status not in (201, 422):  # 422: the label exists already
            raise IssueError(f"POST /labels: HTTP {answer.status}")

    def create(self, title: str, body: str) -> int:
        issue = self._call("POST", "/issues", {"title": title, "body": body, "labels": [LABEL]}, expect=201)
        return int(issue["number"])

    def edit(self, number: int, fields: dict[str, Any]) -> None:
        self._call("PATCH", f"/issues/{number}", fields, expect=200)

    def comment(self, number: int, text: str) -> None:
        self._call("POST", f"/issues/{number}/comments", {"body": text}, expect=201)

    def _call(self, method: str, path: str, body: Any = None, *, expect: int) -> Any:
        answer = self._exchange(method, path, body)
        if answer.status != expect:
            raise IssueError(f"{method} {path.split('?', 1)[0]}: HTTP {answer.status}")
        return answer.document

    def _exchange(self, method: str, path: str, body: Any = None) -> Any:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        try:
            return exchange(method, f"{self._api_url}/repos/{self._repository}{path}", headers, body)
        except Unreachable as error:
            raise IssueError(str(error)) from None


def body(finding: Finding, run_url: str, steps_url: str) -> str:
    if finding.status == "expiring":
        when = f"{finding.expires} ({finding.days_left} days)"
        what = f"`{finding.credential}` of the `{finding.stack}` stack expires on {when}."
    else:
        what = f"`{finding.credential}` of the `{finding.stack}` stack fails its check."
    return "\n".join(
        [
            what,
            "",
            f"Check: {finding.detail}.",
            "",
            f"Rotate it ([steps]({steps_url})); the next daily check closes this issue once it is ok.",
            f"Issues open {WARNING_DAYS} days before an expiry and at the first failure.",
            "",
            f"Run: {run_url}",
        ]
    )


def reconcile(repository: Repository, findings: Iterable[Finding], run_url: str, steps_url: str) -> list[str]:
    """What was done, one line per credential; `steps_url` is the README's rotation calendar."""
    open_issues = repository.open_issues()
    done = []
    label_ready = False
    for finding in findings:
        name = title(finding)
        number = open_issues.get(name)
        if finding.status == "unknown":
            done.append(f"{name}: unknown ({finding.detail}); issue left as it is")
        elif finding.status == "ok":
            if number is None:
                done.append(f"{name}: ok")
            else:
                repository.comment(number, f"Checked ok as of {run_url}: {finding.detail}.")
                repository.edit(number, {"state": "closed", "state_reason": "completed"})
                done.append(f"{name}: ok, closed #{number}")
        elif number is not None:
            repository.edit(number, {"body": body(finding, run_url, steps_url)})
            repository.comment(number, f"Still {finding.status} as of {run_url}: {finding.detail}.")
            done.append(f"{name}: {finding.status}, updated #{number}")
        else:
            if not label_ready:
                repository.ensure_label()
                label_ready = True
            created = repository.create(name, body(finding, run_url, steps_url))
            done.append(f"{name}: {finding.status}, opened #{created}")
    return done
