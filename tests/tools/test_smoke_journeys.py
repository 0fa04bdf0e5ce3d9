"""`python -m tools.smoke` doing what users do, against fake services on this machine: the AI
worker's sign-in and chat (seeding an empty knowledge base) and a tenant's config service."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.components.dynamic_provider_support import FakeApi, RecordedRequest, Reply, serving
from tools.smoke import ai_worker
from tools.smoke.cli import main

ROOT = Path(__file__).resolve().parents[2]
HEALTHY = {"status": "ok", "version": "3f2a9c1d", "checks": {"DB": "ok"}}
ADMIN_TOKEN = "admin-token-" + "a" * 36
LOGIN_TOKEN = "L" * 43
SESSION_TOKEN = "S" * 43
SIGN_IN_STATUS = "If the address can receive email, a sign-in link is on its way."
RIGHT_ANSWER = "A sign-in link expires after 15 minutes [ai-worker-sign-in]."
PASSAGES = [{"id": "ai-worker-sign-in", "title": "Sign-in", "score": 0.8}, {"id": "ai-worker-chat", "score": 0.5}]
API_KEYS = {"ci": "c" * 40, "primary": "p" * 40}


class AiWorker(FakeApi):
    """The AI worker's routes as worker.js answers them; `replies` replaces a route's answer."""

    def __init__(self) -> None:
        super().__init__()
        self.seeded = True
        self.replies: dict[str, Reply] = {}
        self.chat_answer: dict[str, Any] = {"answer": RIGHT_ANSWER, "sources": PASSAGES}

    def answer(self, request: RecordedRequest) -> Reply:
        path = request.path
        if path in self.replies:
            return self.replies[path]
        admin = request.headers.get("authorization") == f"Bearer {ADMIN_TOKEN}"
        if path == "/healthz":
            return Reply(200, HEALTHY)
        if path == "/request-login-link":
            if request.json() != {"email": "smoke-check@smoke.invalid"} or not admin:
                return Reply(401, {"error": "the admin token is required"})
            return Reply(202, {"status": SIGN_IN_STATUS, "email_sent": False, "login_token": LOGIN_TOKEN})
        if path == "/verify-login":
            if request.json() != {"token": LOGIN_TOKEN}:
                return Reply(401, {"error": "the sign-in link is invalid or expired"})
            return Reply(200, {"session_token": SESSION_TOKEN, "expires_at": "2026-12-09T00:00:00Z"})
        if path == "/seed":
            if not admin:
                return Reply(401, {"error": "the admin token is required"})
            self.seeded = True
            return Reply(200, {"version": "2026-05-01.1", "documents": 20, "removed": 0})
        if path == "/api/chat":
            if request.headers.get("authorization") != f"Bearer {SESSION_TOKEN}":
                return Reply(401, {"error": "the session is invalid or expired"})
            if not self.seeded:
                return Reply(200, {"answer": "The passages say nothing.", "conversation_id": "c", "sources": []})
            return Reply(200, {**self.chat_answer, "conversation_id": "c"})
        return Reply(404, {"error": "not found"})

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


class ConfigService(FakeApi):
    """config_service.js's authentication in front of `GET /config`."""

    def __init__(self) -> None:
        super().__init__()
        self.keys = set(API_KEYS.values())
        self.keyless = Reply(401, {"error": "a valid X-API-Key header is required"})

    def answer(self, request: RecordedRequest) -> Reply:
        if request.path == "/healthz":
            return Reply(200, HEALTHY)
        if "x-api-key" not in request.headers:
            return self.keyless
        if request.headers["x-api-key"] not in self.keys:
            return Reply(401, {"error": "a valid X-API-Key header is required"})
        return Reply(200, {"entries": [], "next_cursor": None})


@pytest.fixture
def worker() -> Iterator[AiWorker]:
    fake = AiWorker()
    with serving(fake.server):
        yield fake


@pytest.fixture
def config() -> Iterator[ConfigService]:
    fake = ConfigService()
    with serving(fake.server):
        yield fake


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOKE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("SMOKE_API_KEYS", json.dumps(API_KEYS))


def platform_outputs(worker: AiWorker) -> dict[str, Any]:
    return {
        "healthUrls": {"ai-worker": f"{worker.base_url}/healthz"},
        "serviceVersions": {"ai-worker": HEALTHY["version"]},
        "aiWorkerUrl": worker.base_url,
        "aiWorkerAdminToken": "[secret]",
    }


def tenant_outputs(config: ConfigService) -> dict[str, Any]:
    return {
        "services": {"configServiceUrl": config.base_url, "imageGenUrl": "https://image-gen-acme.example.workers.dev"},
        "apiKeys": "[secret]",
        "healthUrls": {"config-service-acme": f"{config.base_url}/healthz"},
        "serviceVersions": {"config-service-acme": HEALTHY["version"]},
    }


def run(tmp_path: Path, outputs: dict[str, Any], *extra: str) -> int:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return main(["--stack", "prod", "--outputs", str(path), "--attempts", "1", "--retry-delay", "0.01", *extra])


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    out = capsys.readouterr().out
    for secret in (ADMIN_TOKEN, LOGIN_TOKEN, SESSION_TOKEN, *API_KEYS.values()):
        assert secret not in out
    return out.splitlines()


# --- The AI worker ------------------------------------------------------------------------------


def test_a_working_ai_worker_signs_in_without_mail_and_answers_from_the_knowledge_base(
    worker: AiWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, platform_outputs(worker)) == 0
    assert lines(capsys) == [
        f"ok    ai-worker  {worker.base_url}/healthz  version 3f2a9c1d",
        "ok    ai-worker  sign-in  smoke-check@smoke.invalid: no mail sent, session issued",
        "ok    ai-worker  chat  answered from ai-worker-sign-in, mentions 15 minutes",
        "3 of 3 checks passed",
    ]
    assert worker.paths() == ["/healthz", "/request-login-link", "/verify-login", "/api/chat"]
    chat = worker.requests[-1]
    assert chat.json() == {"message": ai_worker.QUESTION}
    assert chat.headers["content-type"] == "application/json"
    # The admin token goes to the sign-in request and nowhere else; the session only to chat.
    assert [r.path for r in worker.requests if ADMIN_TOKEN in r.headers.get("authorization", "")] == [
        "/request-login-link"
    ]


def test_an_empty_knowledge_base_is_seeded_once_and_the_question_asked_again(
    worker: AiWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker.seeded = False
    assert run(tmp_path, platform_outputs(worker)) == 0
    assert lines(capsys)[2] == (
        "ok    ai-worker  chat  answered from ai-worker-sign-in, mentions 15 minutes; "
        "seeded the empty knowledge base, version 2026-05-01.1 (20 documents)"
    )
    assert worker.paths()[3:] == ["/api/chat", "/seed", "/api/chat"]
    assert worker.requests[4].headers["authorization"] == f"Bearer {ADMIN_TOKEN}"
    # The next deploy finds it seeded and seeds nothing.
    worker.requests.clear()
    assert run(tmp_path, platform_outputs(worker)) == 0
    assert "/seed" not in worker.paths()


def test_an_index_still_filling_after_the_seeding_is_asked_until_it_answers(
    worker: AiWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker.seeded = False
    empty = Reply(200, {"answer": "Nothing.", "conversation_id": "c", "sources": []})
    # The first question finds the index empty, then it stays empty for two more answers.
    worker.scripted.extend([None, None, None, None, None, empty, empty])
    assert run(tmp_path, platform_outputs(worker), "--index-wait", "30") == 0
    assert worker.paths().count("/api/chat") == 4
    assert worker.paths().count("/seed") == 1
    assert lines(capsys)[-1] == "3 of 3 checks passed"


def test_an_index_that_stays_empty_after_the_seeding_fails_once_the_wait_is_over(
    worker: AiWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker.seeded = False
    worker.replies["/seed"] = Reply(200, {"version": "2026-05-01.1", "documents": 20, "removed": 0})
    assert run(tmp_path, platform_outputs(worker), "--index-wait", "0.05") == 1
    assert lines(capsys)[2] == (
        "FAIL  ai-worker  chat  /api/chat cites no passage: the knowledge base is empty; "
        "seeded the empty knowledge base, version 2026-05-01.1 (20 documents)"
    )
    assert worker.paths().count("/seed") == 1


@pytest.mark.parametrize(
    ("route", "reply", "sign_in", "chat"),
    [
        # A worker that mailed the link answers as it does for every address.
        (
            "/request-login-link",
            Reply(202, {"status": SIGN_IN_STATUS}),
            "/request-login-link HTTP 202 without email_sent: false, so a mail may have been sent",
            None,
        ),
        (
            "/request-login-link",
            Reply(202, {"status": SIGN_IN_STATUS, "email_sent": True, "login_token": LOGIN_TOKEN}),
            "/request-login-link HTTP 202 without email_sent: false, so a mail may have been sent",
            None,
        ),
        (
            "/request-login-link",
            Reply(401, {"error": "the admin token is required"}),
            "/request-login-link HTTP 401: the admin token is required",
            None,
        ),
        (
            "/request-login-link",
            Reply(202, {"status": SIGN_IN_STATUS, "email_sent": False}),
            "/request-login-link HTTP 202 but no sign-in token in the answer",
            None,
        ),
        (
            "/verify-login",
            Reply(401, {"error": "the sign-in link is invalid or expired"}),
            "/verify-login HTTP 401: the sign-in link is invalid or expired",
            None,
        ),
        (
            "/api/chat",
            Reply(502, {"error": "the AI model is unavailable; try again"}),
            None,
            "/api/chat HTTP 502: the AI model is unavailable; try again",
        ),
        (
            "/api/chat",
            Reply(200, {"answer": "Links last an hour.", "sources": PASSAGES}),
            None,
            "/api/chat answer does not mention 15 minutes: Links last an hour.",
        ),
        (
            "/api/chat",
            Reply(200, {"answer": RIGHT_ANSWER, "sources": [{"id": "tenant-rate-limiter"}, {"id": "delivery-github"}]}),
            None,
            "/api/chat cites tenant-rate-limiter, delivery-github, not ai-worker-sign-in",
        ),
        ("/api/chat", Reply(200, {"answer": RIGHT_ANSWER}), None, "/api/chat HTTP 200 but no answer and sources"),
        (
            "/api/chat",
            Reply(200, b"<html>", {"Content-Type": "text/html"}),
            None,
            "/api/chat HTTP 200, body is not JSON",
        ),
    ],
)
def test_each_wrong_answer_fails_with_one_line_naming_the_service_and_the_figure(
    worker: AiWorker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    route: str,
    reply: Reply,
    sign_in: str | None,
    chat: str | None,
) -> None:
    worker.replies[route] = reply
    assert run(tmp_path, platform_outputs(worker)) == 1
    found = lines(capsys)
    if sign_in:
        assert found[1:3] == [
            f"FAIL  ai-worker  sign-in  {sign_in}",
            "FAIL  ai-worker  chat  not asked: the sign-in gave no session",
        ]
    else:
        assert found[2] == f"FAIL  ai-worker  chat  {chat}"
    assert found[-1] == ("1 of 3 checks passed" if sign_in else "2 of 3 checks passed")


def test_a_worker_that_does_not_answer_fails_naming_the_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = AiWorker()
    closed.server.server_close()
    outputs = platform_outputs(closed)
    assert run(tmp_path, outputs) == 1
    found = lines(capsys)
    assert (
        found[1] == "FAIL  ai-worker  sign-in  /request-login-link cannot connect or read the answer (ConnectionError)"
    )


def test_a_refused_seeding_fails_the_chat_check(
    worker: AiWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker.seeded = False
    worker.replies["/seed"] = Reply(401, {"error": "the admin token is required"})
    assert run(tmp_path, platform_outputs(worker)) == 1
    assert lines(capsys)[2] == (
        "FAIL  ai-worker  chat  the knowledge base is empty and /seed answered HTTP 401: the admin token is required"
    )


def test_a_failing_check_is_tried_again(worker: AiWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worker.scripted.extend([None, None, None, Reply(502, {"error": "the AI model is unavailable; try again"})])
    assert run(tmp_path, platform_outputs(worker), "--attempts", "2") == 0
    assert worker.paths().count("/api/chat") == 2


def test_a_service_that_echoes_a_secret_has_it_masked_in_the_output(
    worker: AiWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker.replies["/request-login-link"] = Reply(401, {"error": f"bad token {ADMIN_TOKEN}"})
    assert run(tmp_path, platform_outputs(worker)) == 1
    assert lines(capsys)[1] == "FAIL  ai-worker  sign-in  /request-login-link HTTP 401: bad token [secret]"


def test_a_worker_that_echoes_the_session_token_has_it_masked_in_the_output(
    worker: AiWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker.replies["/api/chat"] = Reply(403, {"error": f"session {SESSION_TOKEN} may not chat"})
    assert run(tmp_path, platform_outputs(worker)) == 1
    assert lines(capsys)[2] == "FAIL  ai-worker  chat  /api/chat HTTP 403: session [secret] may not chat"


def test_the_canned_question_is_answered_by_the_shipped_knowledge_base_and_its_address_is_the_workers() -> None:
    """The fact the check looks for is in the document it expects to be cited, and the address it
    signs in with is the one the worker sends no mail."""
    knowledge = json.loads((ROOT / "systems/ai_worker/knowledge_base.json").read_text(encoding="utf-8"))
    [document] = [d for d in knowledge["documents"] if d["id"] == ai_worker.EXPECTED_SOURCE]
    assert ai_worker.EXPECTED_FACT in document["text"]
    worker_js = (ROOT / "systems/ai_worker/worker.js").read_text(encoding="utf-8")
    assert f'const SMOKE_TEST_ADDRESS = "{ai_worker.SMOKE_TEST_ADDRESS}";' in worker_js
    assert re.search(r"LOGIN_TOKEN_TTL_SECONDS = 15 \* 60;", worker_js)


# --- A tenant's config service ------------------------------------------------------------------


def test_a_tenant_config_service_answers_each_of_its_keys_and_refuses_a_request_without_one(
    config: ConfigService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, tenant_outputs(config)) == 0
    assert lines(capsys)[1:] == [
        "ok    config-service-acme  api keys  ci, primary accepted, a request without a key refused",
        "2 of 2 checks passed",
    ]
    reads = [r for r in config.requests if r.path != "/healthz"]
    assert [(r.method, r.path, r.headers.get("x-api-key")) for r in reads] == [
        ("GET", "/config?limit=1", API_KEYS["ci"]),
        ("GET", "/config?limit=1", API_KEYS["primary"]),
        ("GET", "/config?limit=1", None),
    ]


def test_a_key_the_config_service_refuses_fails_naming_the_key(
    config: ConfigService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.keys.discard(API_KEYS["ci"])
    assert run(tmp_path, tenant_outputs(config)) == 1
    assert lines(capsys)[1] == (
        "FAIL  config-service-acme  api keys  key ci: GET /config HTTP 401: a valid X-API-Key header is required"
    )


def test_a_config_service_that_answers_without_a_key_fails(
    config: ConfigService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.keyless = Reply(200, {"entries": [], "next_cursor": None})
    assert run(tmp_path, tenant_outputs(config)) == 1
    assert lines(capsys)[1] == (
        "FAIL  config-service-acme  api keys  GET /config without a key answered HTTP 200, not 401"
    )


def test_a_stale_version_fails_beside_the_working_journeys(
    worker: AiWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = platform_outputs(worker) | {"serviceVersions": {"ai-worker": "9e1d0b7a"}}
    assert run(tmp_path, outputs) == 1
    assert lines(capsys)[0] == (
        f"FAIL  ai-worker  {worker.base_url}/healthz  "
        "HTTP 200 but version 3f2a9c1d, not 9e1d0b7a of this deploy: a stale deployment"
    )


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "outputs", "message"),
    [
        ("SMOKE_ADMIN_TOKEN", None, "platform", "SMOKE_ADMIN_TOKEN is not set: the AI worker's checks need"),
        ("SMOKE_ADMIN_TOKEN", " ", "platform", "SMOKE_ADMIN_TOKEN is not set"),
        ("SMOKE_API_KEYS", None, "tenant", "SMOKE_API_KEYS is not set: the config service's check needs"),
        ("SMOKE_API_KEYS", "{ci: s3cr3t-key", "tenant", "SMOKE_API_KEYS is not JSON"),
        ("SMOKE_API_KEYS", '{"ci": ""}', "tenant", "SMOKE_API_KEYS must be a JSON object of key name to non-empty key"),
        ("SMOKE_API_KEYS", '["s3cr3t-key"]', "tenant", "SMOKE_API_KEYS must be a JSON object"),
    ],
)
def test_a_missing_or_malformed_secret_stops_before_any_request_without_showing_it(
    worker: AiWorker,
    config: ConfigService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str | None,
    outputs: str,
    message: str,
) -> None:
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    assert run(tmp_path, platform_outputs(worker) if outputs == "platform" else tenant_outputs(config)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"smoke: {message}")
    assert "s3cr3t" not in captured.err
    assert worker.requests == [] and config.requests == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"aiWorkerUrl": "http://ai.example.com"}, 'aiWorkerUrl must be an https:// URL, got "http://ai.example.com"'),
        ({"services": {"imageGenUrl": "https://x"}}, "services.configServiceUrl must be an https:// URL"),
        (
            {"services": {"configServiceUrl": "https://elsewhere.example"}},
            "healthUrls has no entry for services.configServiceUrl",
        ),
    ],
)
def test_outputs_that_break_the_contract_stop_before_any_request(
    config: ConfigService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, Any],
    message: str,
) -> None:
    assert run(tmp_path, tenant_outputs(config) | change) == 2
    assert capsys.readouterr().err.startswith(f"smoke: {tmp_path / 'outputs.json'}: {message}")
    assert config.requests == []


def test_a_stack_serving_no_ai_worker_needs_no_admin_token(
    config: ConfigService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SMOKE_ADMIN_TOKEN")
    monkeypatch.delenv("SMOKE_API_KEYS")
    outputs = {**tenant_outputs(config), "aiWorkerUrl": None}
    del outputs["services"]
    assert run(tmp_path, outputs) == 0
    assert lines(capsys) == [
        f"ok    config-service-acme  {config.base_url}/healthz  version 3f2a9c1d",
        "1 of 1 checks passed",
    ]
