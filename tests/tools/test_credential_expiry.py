"""The credential check against fake APIs on 127.0.0.1: each provider's answers become ok,
expiring, failed or unknown; the issues follow the findings; no report or issue holds a secret."""

import functools
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tools.credential_expiry import cloudflare, credentials, discord, email_api, github, image_api
from tools.credential_expiry.cli import main
from tools.credential_expiry.credentials import Credential, Endpoints, check, held_by, settings
from tools.credential_expiry.finding import Finding, Status
from tools.credential_expiry.issues import LABEL, Repository, reconcile, title
from tools.credential_expiry.report import LeakError, render

NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
SECRET = "s3cr3t-Vq8ZpL2mXw4Rt7Yk"
Reply = tuple[int, Any, dict[str, str]]
STEPS = "https://github.com/acme/orchestra/blob/HEAD/README.md#rotation-calendar"


class Fake:
    """An API on 127.0.0.1 that records each request and answers with `route(method, path, headers, body)`."""

    def __init__(self, route: Callable[[str, str, dict[str, str], Any], Reply]) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append((self.command, self.path, headers, body))
                status, document, extra = route(self.command, self.path, headers, body)
                payload = b"" if document is None else json.dumps(document).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **extra}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "Fake":
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def answering(status: int, document: Any = None, headers: dict[str, str] | None = None) -> Fake:
    return Fake(lambda *_: (status, document if document is not None else {}, headers or {}))


def github_expiry(days: int) -> str:
    return (NOW + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- GitHub token -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "expires", "days_left"),
    [
        ({github.EXPIRATION_HEADER: github_expiry(10)}, "expiring", "2026-12-13", 10),
        ({github.EXPIRATION_HEADER: github_expiry(30)}, "ok", "2027-01-02", 30),
        ({github.EXPIRATION_HEADER: "2026-12-13 04:00:00 -0700"}, "expiring", "2026-12-13", 10),
        ({}, "ok", None, None),
    ],
)
def test_a_github_token_is_judged_by_the_expiry_github_returns(
    headers: dict[str, str], status: str, expires: str | None, days_left: int | None
) -> None:
    with answering(200, {"resources": {}}, headers) as fake:
        finding = github.check_token("orchestra:githubCredential", "dev", SECRET, fake.url, NOW)
    assert (finding.status, finding.expires, finding.days_left) == (status, expires, days_left)
    [(method, path, sent, _)] = fake.requests
    assert (method, path, sent["authorization"]) == ("GET", "/rate_limit", f"Bearer {SECRET}")


def test_a_refused_github_token_fails_and_an_outage_is_unknown() -> None:
    with answering(401, {"message": "Bad credentials"}) as fake:
        assert github.check_token("t", "dev", SECRET, fake.url, NOW).status == "failed"
    with answering(503) as fake:
        assert github.check_token("t", "dev", SECRET, fake.url, NOW).status == "unknown"
    # Nobody listens on the closed server's port any more.
    assert github.check_token("t", "dev", SECRET, fake.url, NOW).status == "unknown"


# --- GitHub App key -----------------------------------------------------------------------------


def app_key() -> tuple[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


def test_an_app_key_signs_a_jwt_github_accepts() -> None:
    pem, public_key = app_key()

    def route(method: str, path: str, headers: dict[str, str], _: Any) -> Reply:
        token = headers["authorization"].removeprefix("Bearer ")
        try:
            claims = jwt.decode(
                token, public_key, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
            )
        except jwt.PyJWTError:
            return 401, {"message": "A JSON web token could not be decoded"}, {}
        assert claims["iss"] == "1000001" and claims["exp"] - claims["iat"] <= 600
        return 200, {"id": 1000001}, {}

    with Fake(route) as fake:
        finding = github.check_app_key("orchestra:githubCredential", "dev", "1000001", pem, fake.url, NOW)
        other_pem, _ = app_key()
        refused = github.check_app_key("orchestra:githubCredential", "dev", "1000001", other_pem, fake.url, NOW)
    assert (finding.status, finding.expires) == ("ok", None)
    assert [r[1] for r in fake.requests] == ["/app", "/app"]
    assert refused.status == "failed"


def test_a_key_that_is_no_pem_fails_without_a_request_and_without_quoting_it() -> None:
    with answering(200) as fake:
        finding = github.check_app_key("orchestra:githubCredential", "dev", "1", SECRET, fake.url, NOW)
    assert finding.status == "failed" and fake.requests == []
    assert SECRET not in finding.detail


# --- Cloudflare ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "status", "days_left"),
    [
        ({"status": "active", "expires_on": "2026-12-13T00:00:00Z"}, "expiring", 10),
        ({"status": "active", "expires_on": "2027-01-02T00:00:00Z"}, "ok", 30),
        ({"status": "active"}, "ok", None),
        ({"status": "expired", "expires_on": "2026-12-01T00:00:00Z"}, "failed", None),
        ({"status": "disabled"}, "failed", None),
    ],
)
def test_a_cloudflare_token_is_judged_by_its_verify_answer(result: dict[str, str], status: str, days_left: Any) -> None:
    with answering(200, {"success": True, "result": {"id": "a" * 32, **result}}) as fake:
        finding = cloudflare.check_token("orchestra:cloudflareApiToken", "dev", SECRET, "f" * 32, fake.url, NOW)
    assert (finding.status, finding.days_left) == (status, days_left)
    assert fake.requests[0][1] == "/user/tokens/verify"


def test_an_account_token_is_verified_under_its_account_and_a_refused_one_fails() -> None:
    def route(method: str, path: str, headers: dict[str, str], _: Any) -> Reply:
        if path == f"/accounts/{'f' * 32}/tokens/verify":
            return 200, {"success": True, "result": {"status": "active"}}, {}
        return 401, {"success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}]}, {}

    with Fake(route) as fake:
        assert cloudflare.check_token("c", "dev", SECRET, "f" * 32, fake.url, NOW).status == "ok"
        assert cloudflare.check_token("c", "dev", SECRET, "e" * 32, fake.url, NOW).status == "failed"


# --- Discord, email, image ----------------------------------------------------------------------


@pytest.mark.parametrize(("reply", "status"), [(200, "ok"), (401, "failed"), (500, "unknown")])
def test_a_discord_bot_token(reply: int, status: str) -> None:
    with answering(reply, {"id": "1"}) as fake:
        finding = discord.check_bot_token("orchestra:discordBotToken", "dev", SECRET, fake.url, NOW)
    assert (finding.status, finding.expires) == (status, None)
    assert fake.requests[0][1:3][0] == "/users/@me" and fake.requests[0][2]["authorization"] == f"Bot {SECRET}"


@pytest.mark.parametrize(
    ("reply", "document", "status"),
    [
        (200, {"data": []}, "ok"),
        (401, {"name": "restricted_api_key"}, "ok"),
        (401, {"name": "missing_api_key"}, "failed"),
        (403, {"name": "invalid_api_key"}, "failed"),
        (502, {}, "unknown"),
    ],
)
def test_an_email_api_key(reply: int, document: dict[str, str], status: str) -> None:
    with answering(reply, document) as fake:
        finding = email_api.check_key("orchestra:emailApiKey", "dev", SECRET, f"{fake.url}/emails", NOW)
    assert (finding.status, finding.expires) == (status, None)
    assert fake.requests[0][:2] == ("GET", "/domains")


@pytest.mark.parametrize(("reply", "status"), [(200, "ok"), (404, "ok"), (401, "failed"), (403, "failed")])
def test_an_image_api_key(reply: int, status: str) -> None:
    with answering(reply) as fake:
        finding = image_api.check_key(
            "orchestra:imageApiKey", "dev", SECRET, f"{fake.url}/v1/ideogram-v3/generate", NOW
        )
    assert finding.status == status
    assert fake.requests[0][:2] == ("GET", "/v2/account/usage") and fake.requests[0][2]["api-key"] == SECRET


# --- The stack's settings and the report --------------------------------------------------------


def stack_config(**secrets: str) -> str:
    config = {"aws:region": {"value": "us-east-1", "secret": False}}
    config |= {f"orchestra:{key}": {"value": value, "secret": True} for key, value in secrets.items()}
    return json.dumps(config)


def test_the_settings_come_from_pulumi_config_with_the_models_defaults() -> None:
    values = settings({"STACK_CONFIG": stack_config(emailApiKey=SECRET)})
    assert values["emailApiKey"] == SECRET
    assert values["emailApiUrl"] == "https://api.resend.com/emails" and values["githubAuth"] == "app"
    names = [c.name for c in held_by(values, {})]
    assert names == [
        "orchestra:githubCredential",
        "orchestra:cloudflareApiToken",
        "orchestra:discordBotToken",
        "orchestra:emailApiKey",
        "orchestra:imageApiKey",
    ]
    # Only a stack that manages delivery needs the GitHub provider's token.
    delivering = held_by(values | {"deliveryFile": "delivery.yaml"}, {"ORCHESTRA_GITHUB_TOKEN": SECRET})
    assert delivering[-1] == Credential("ORCHESTRA_GITHUB_TOKEN", SECRET)


def test_a_credential_that_is_not_set_fails() -> None:
    finding = check("dev", Credential("orchestra:discordBotToken", ""), {}, Endpoints(), NOW)
    assert finding.status == "failed" and finding.detail == "not set for this stack"


def test_the_report_refuses_to_carry_a_secret_or_a_line_of_one() -> None:
    pem, _ = app_key()
    leaky = Finding("c", "dev", "failed", None, None, f"echoed {pem.splitlines()[3]}")
    with pytest.raises(LeakError):
        render("dev", NOW.isoformat(), [leaky], [pem])
    clean = Finding("c", "dev", "ok", None, None, "fine")
    assert json.loads(render("dev", NOW.isoformat(), [clean], [pem]))["credentials"][0]["status"] == "ok"


def test_the_check_command_reports_every_credential_without_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pem, _ = app_key()
    secrets = {
        "githubCredential": pem,
        "cloudflareApiToken": SECRET + "cf",
        "discordBotToken": SECRET + "dc",
        "emailApiKey": SECRET + "em",
        "imageApiKey": SECRET + "im",
    }

    def route(method: str, path: str, headers: dict[str, str], _: Any) -> Reply:
        # Every API refuses, and echoes what it was sent, as a careless one might.
        return 401, {"message": json.dumps(headers)}, {}

    with Fake(route) as fake:
        monkeypatch.setattr(
            credentials, "Endpoints", functools.partial(Endpoints, cloudflare=fake.url, discord=fake.url)
        )
        urls = {"emailApiUrl": f"{fake.url}/emails", "imageApiUrl": f"{fake.url}/generate"}
        config = json.loads(stack_config(**secrets, githubAppId="1"))
        config |= {f"orchestra:{key}": {"value": value, "secret": False} for key, value in urls.items()}
        environ = {"STACK_CONFIG": json.dumps(config), "GITHUB_API_URL": fake.url}
        report = tmp_path / "out" / "report.json"
        assert main(["check", "--stack", "dev", "--report", str(report)], environ) == 0
    text = report.read_text() + capsys.readouterr().out
    document = json.loads(report.read_text())
    assert {c["credential"]: c["status"] for c in document["credentials"]} == {
        f"orchestra:{key}": "failed" for key in secrets
    }
    assert len(fake.requests) == 6  # both of Cloudflare's verify endpoints
    for secret in secrets.values():
        for part in [secret[:6], *secret.splitlines()[1:-1]]:
            assert part not in text


def test_the_check_command_stops_with_one_line_without_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--stack", "dev", "--report", str(tmp_path / "r.json")], {}) == 2
    assert capsys.readouterr().err.strip() == (
        "credential-expiry: STACK_CONFIG is not set: it holds the stack's `pulumi config --show-secrets --json`"
    )


# --- The issues ---------------------------------------------------------------------------------


class FakeIssues:
    """GitHub's issues API for one repository, in memory."""

    def __init__(self, issues: dict[int, dict[str, Any]] | None = None) -> None:
        self.issues = issues or {}
        self.comments: list[tuple[int, str]] = []
        self.labels: set[str] = set()
        self.fake = Fake(self.route)

    def route(self, method: str, path: str, headers: dict[str, str], body: Any) -> Reply:
        assert headers["authorization"] == "Bearer gh-token"
        path = path.removeprefix("/repos/acme/orchestra")
        if method == "GET" and path.startswith("/issues?"):
            assert f"labels={LABEL}" in path and "state=open" in path
            page = int(path.rsplit("page=", 1)[1])
            listed = [
                {"number": n, "title": i["title"]}
                for n, i in sorted(self.issues.items())
                if i["state"] == "open" and LABEL in i["labels"]
            ]
            return 200, listed[(page - 1) * 100 : page * 100], {}
        if method == "POST" and path == "/labels":
            if body["name"] in self.labels:
                return 422, {"message": "Validation Failed"}, {}
            self.labels.add(body["name"])
            return 201, {}, {}
        if method == "POST" and path == "/issues":
            number = max(self.issues, default=0) + 1
            self.issues[number] = {
                "title": body["title"],
                "body": body["body"],
                "labels": body["labels"],
                "state": "open",
            }
            return 201, {"number": number}, {}
        number = int(path.split("/")[2])
        if method == "PATCH":
            self.issues[number] |= body
            return 200, {"number": number}, {}
        self.comments.append((number, body["body"]))
        return 201, {}, {}


def finding(status: Status, credential: str = "orchestra:cloudflareApiToken", days: int | None = None) -> Finding:
    expires = (NOW + timedelta(days=days)).date().isoformat() if days is not None else None
    return Finding(credential, "prod", status, expires, days, f"the check says {status}")


@pytest.fixture
def issues() -> Iterator[FakeIssues]:
    fake = FakeIssues()
    with fake.fake:
        yield fake


def test_one_issue_is_opened_updated_and_closed_per_credential(issues: FakeIssues) -> None:
    repository = Repository(issues.fake.url, "acme/orchestra", "gh-token")
    run = "https://github.com/acme/orchestra/actions/runs/1"
    assert reconcile(
        repository, [finding("expiring", days=10), finding("ok", "orchestra:discordBotToken")], run, STEPS
    ) == [
        "Credential expiring: prod orchestra:cloudflareApiToken: expiring, opened #1",
        "Credential expiring: prod orchestra:discordBotToken: ok",
    ]
    assert issues.issues[1]["labels"] == [LABEL] and "2026-12-13 (10 days)" in issues.issues[1]["body"]
    assert f"([steps]({STEPS}))" in issues.issues[1]["body"]
    assert issues.labels == {LABEL}
    # The next run finds it by title and label, and updates it rather than opening another.
    assert reconcile(repository, [finding("failed")], run, STEPS) == [
        "Credential expiring: prod orchestra:cloudflareApiToken: failed, updated #1"
    ]
    assert "fails its check" in issues.issues[1]["body"] and issues.comments[-1][0] == 1
    # An API that did not answer says nothing about the credential: the issue stays.
    reconcile(repository, [finding("unknown")], run, STEPS)
    assert issues.issues[1]["state"] == "open"
    assert reconcile(repository, [finding("ok")], run, STEPS) == [
        "Credential expiring: prod orchestra:cloudflareApiToken: ok, closed #1"
    ]
    assert issues.issues[1]["state"] == "closed" and issues.comments[-1] == (
        1,
        f"Checked ok as of {run}: the check says ok.",
    )
    # Once closed, a new failure opens a new issue.
    assert reconcile(repository, [finding("failed")], run, STEPS)[0].endswith("opened #2")
    assert len(issues.issues) == 2


def test_an_issue_with_the_title_but_not_the_label_is_not_ours() -> None:
    fake = FakeIssues({7: {"title": title(finding("failed")), "labels": ["bug"], "state": "open", "body": ""}})
    with fake.fake:
        lines = reconcile(Repository(fake.fake.url, "acme/orchestra", "gh-token"), [finding("failed")], "run", STEPS)
    assert lines == ["Credential expiring: prod orchestra:cloudflareApiToken: failed, opened #8"]


def test_the_issues_command_reads_the_report_and_names_a_github_failure(
    tmp_path: Path, issues: FakeIssues, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    report.write_text(render("prod", NOW.isoformat(), [finding("expiring", days=3)], [SECRET]))
    environ = {"GITHUB_REPOSITORY": "acme/orchestra", "GH_TOKEN": "gh-token", "GITHUB_API_URL": issues.fake.url}
    assert main(["issues", "--report", str(report)], environ) == 0
    [opened] = issues.issues.values()
    assert opened["title"] == "Credential expiring: prod orchestra:cloudflareApiToken"
    assert f"([steps]({STEPS}))" in opened["body"] and SECRET not in opened["body"]
    assert main(["issues", "--report", str(report)], environ | {"GH_TOKEN": "wrong"}) == 1
    assert main(["issues", "--report", str(tmp_path / "none.json")], environ) == 2
    assert main(["issues", "--report", str(report)], {}) == 2
