"""`python -m tools.smoke` against local HTTP servers: no network beyond this machine."""

import json
import os
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.components.dynamic_provider_support import FakeApi, RecordedRequest, Reply, serving
from tools.offline_plan import Plan
from tools.smoke.cli import main
from tools.smoke.health import check
from tools.smoke.text import shown

HEALTHY = {"status": "ok", "version": "3f2a9c1d", "checks": {"db": "ok", "kv": "ok"}}


class Services(FakeApi):
    """Answers `/<service>/healthz` with the reply set for that service; `/slow/...` never answers
    and `/stalls/...` never sends the body it announces."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: dict[str, Reply] = {}
        self.release = threading.Event()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/slow/"):
            self.release.wait(timeout=10)
            return
        if handler.path.startswith("/stalls/"):
            # Headers, then a body that never comes.
            handler.send_response(200)
            handler.send_header("Content-Length", "100")
            handler.end_headers()
            handler.wfile.flush()
            self.release.wait(timeout=10)
            return
        super().handle(handler)

    def answer(self, request: RecordedRequest) -> Reply:
        return self.replies.get(request.path.split("/")[1], Reply(200, HEALTHY))

    def url(self, service: str) -> str:
        return f"{self.base_url}/{service}/healthz"


@pytest.fixture
def services() -> Iterator[Services]:
    fake = Services()
    with serving(fake.server):
        try:
            yield fake
        finally:
            fake.release.set()


def run(tmp_path: Path, urls: object, *extra: str, versions: object = None) -> int:
    outputs = tmp_path / "outputs.json"
    if versions is None:
        versions = dict.fromkeys(urls, HEALTHY["version"]) if isinstance(urls, dict) else {}
    outputs.write_text(json.dumps({"healthUrls": urls, "serviceVersions": versions}))
    return main(["--stack", "prod", "--outputs", str(outputs), "--attempts", "1", *extra])


def test_every_healthy_service_gets_a_line_and_the_run_passes(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(tmp_path, {"orchestrator": services.url("orchestrator"), "ai-worker": services.url("ai-worker")})
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"ok    ai-worker  {services.url('ai-worker')}  version 3f2a9c1d",
        f"ok    orchestrator  {services.url('orchestrator')}  version 3f2a9c1d",
        "2 of 2 checks passed",
    ]
    assert {(r.method, r.path) for r in services.requests} == {
        ("GET", "/ai-worker/healthz"),
        ("GET", "/orchestrator/healthz"),
    }


NO_VERSION = "HTTP 200 but no version: the deployed version cannot be confirmed"
UNREADABLE = "cannot connect or read the answer"


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (
            Reply(503, {"status": "failing", "version": "v1", "checks": {"db": "ok", "kv": "timeout"}}),
            "HTTP 503, status failing (kv: timeout)",
        ),
        (Reply(200, b"<html>oops</html>", {"Content-Type": "text/html"}), "HTTP 200, body is not JSON"),
        (Reply(200, ["ok"]), "HTTP 200, body is not a JSON object"),
        (
            Reply(200, {"status": "ok", "checks": {}}),
            "HTTP 200 but no version: the deployed version cannot be confirmed",
        ),
        (Reply(200, {**HEALTHY, "version": " "}), "HTTP 200 but no version: the deployed version cannot be confirmed"),
        (Reply(200, {**HEALTHY, "status": "degraded"}), "HTTP 200 but status degraded, expected ok"),
        (Reply(200, {**HEALTHY, "checks": {"db": "disk full"}}), "HTTP 200 but checks failing: db: disk full"),
        (Reply(200, {"status": "ok", "version": "v1"}), "HTTP 200 but no checks object"),
        (Reply(302, b"", {"Location": "https://elsewhere.example/"}), "HTTP 302, body is not JSON"),
        (Reply(200, b"[" * 50_000), "HTTP 200, body is not JSON"),
        (
            Reply(200, b"\x1f\x8bnot gzip", {"Content-Encoding": "gzip"}),
            "cannot connect or read the answer (DecodeError)",
        ),
    ],
)
def test_each_kind_of_failure_gets_one_clear_line_and_fails_the_run(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str], reply: Reply, problem: str
) -> None:
    services.replies["broken"] = reply
    code = run(tmp_path, {"broken": services.url("broken"), "fine": services.url("fine")})
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        f"FAIL  broken  {services.url('broken')}  {problem}",
        f"ok    fine  {services.url('fine')}  version 3f2a9c1d",
        "1 of 2 checks passed",
    ]


@pytest.mark.parametrize("service", ["slow", "stalls"])
def test_a_service_that_does_not_answer_in_time_fails(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str], service: str
) -> None:
    assert run(tmp_path, {service: services.url(service)}, "--timeout", "0.2") == 1
    assert capsys.readouterr().out.splitlines()[0] == f"FAIL  {service}  {services.url(service)}  no answer within 0.2s"


def test_a_service_nobody_listens_on_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    closed = FakeApi()
    closed.server.server_close()
    assert run(tmp_path, {"gone": f"{closed.base_url}/healthz"}) == 1
    assert f"  {UNREADABLE} (ConnectionError)" in capsys.readouterr().out


def test_a_service_still_starting_is_asked_again(services: Services) -> None:
    services.scripted.extend([Reply(503, {"status": "failing", "version": "v1", "checks": {"db": "starting"}})])
    waits: list[float] = []
    health = check(
        "api",
        services.url("api"),
        expected_version="3f2a9c1d",
        timeout=1,
        attempts=3,
        retry_delay=2.5,
        sleep=waits.append,
    )
    assert health.ok and health.version == "3f2a9c1d"
    assert waits == [2.5]
    assert len(services.requests) == 2


def test_a_service_still_running_the_previous_version_fails_the_run(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Healthy but stale: `/healthz` reports another version than the one this deploy produced."""
    urls = {"api": services.url("api"), "fresh": services.url("fresh")}
    code = run(tmp_path, urls, versions={"api": "9e1d0b7a", "fresh": "3f2a9c1d"})
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        f"FAIL  api  {services.url('api')}  "
        "HTTP 200 but version 3f2a9c1d, not 9e1d0b7a of this deploy: a stale deployment",
        f"ok    fresh  {services.url('fresh')}  version 3f2a9c1d",
        "1 of 2 checks passed",
    ]


def test_a_service_that_catches_up_with_the_deploy_passes(services: Services) -> None:
    """A worker being rolled out answers with the old version first: it is asked again."""
    services.scripted.extend([Reply(200, {**HEALTHY, "version": "0ld0"})])
    waits: list[float] = []
    health = check(
        "api",
        services.url("api"),
        expected_version="3f2a9c1d",
        timeout=1,
        attempts=2,
        retry_delay=1,
        sleep=waits.append,
    )
    assert health.ok and waits == [1]


def test_what_a_service_says_cannot_forge_log_lines(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services.replies["evil"] = Reply(503, {"status": "failing\n::error::forged", "version": "v", "checks": {}})
    assert run(tmp_path, {"evil": services.url("evil")}) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"FAIL  evil  {services.url('evil')}  HTTP 503, status failing\\n::error::forged"
    assert not any(line.startswith("::") for line in lines)
    assert len(shown("x" * 1000)) == 120


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"aiWorkerUrl": "https://x"}, "the stack has no healthUrls output"),
        ({"healthUrls": {}}, "healthUrls must be a non-empty object of service name to URL"),
        ({"healthUrls": ["https://x/healthz"]}, "healthUrls must be a non-empty object of service name to URL"),
        (
            {"healthUrls": {"api": "http://api.example.com/healthz"}},
            'healthUrls.api must be an https:// URL, got "http',
        ),
        ({"healthUrls": {"api": "https://user:pw@api.example.com/healthz"}}, "healthUrls.api must be an https:// URL"),
        ({"healthUrls": {"api": "file:///etc/passwd"}}, "healthUrls.api must be an https:// URL"),
        ({"healthUrls": {"api": 7}}, "healthUrls.api must be an https:// URL, got 7"),
        ({"healthUrls": {"api": "https://a.example/healthz\n::error::x"}}, "healthUrls.api must be an https:// URL"),
        ({"healthUrls": {"api\n::error::x": "https://a.example/healthz"}}, "healthUrls has a service name that is not"),
        (
            {"healthUrls": {"api": "https://a.example/healthz"}},
            "the stack has no serviceVersions output of service name to version",
        ),
        (
            {"healthUrls": {"api": "https://a.example/healthz"}, "serviceVersions": {"web": "v1"}},
            "serviceVersions gives no version for api",
        ),
        (
            {"healthUrls": {"api": "https://a.example/healthz"}, "serviceVersions": {"api": ""}},
            "serviceVersions gives no version for api",
        ),
    ],
)
def test_outputs_that_break_the_contract_stop_with_one_line_and_ask_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outputs: dict[str, object], message: str
) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    assert main(["--stack", "prod", "--outputs", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"smoke: {path}: {message}")
    assert captured.err.count("\n") == 1


def test_an_unreadable_outputs_file_stops_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["--stack", "prod", "--outputs", str(tmp_path / "bad.json")]) == 2
    assert main(["--stack", "prod", "--outputs", str(tmp_path / "missing.json")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith(f"smoke: {tmp_path / 'bad.json'}: not JSON")
    assert errors[1] == f"smoke: {tmp_path / 'missing.json'}: cannot be read (No such file or directory)"


def fake_pulumi(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text(f"#!/bin/sh\n{script}\n")
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IXUSR)


def test_without_a_file_the_stack_outputs_come_from_the_pulumi_cli(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = json.dumps({"healthUrls": {"api": services.url("api")}, "serviceVersions": {"api": "3f2a9c1d"}})
    fake_pulumi(tmp_path / "bin", f"echo \"$@\" > {tmp_path / 'args'}\necho '{outputs}'")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert main(["--stack", "prod", "--attempts", "1"]) == 0
    assert (tmp_path / "args").read_text() == "stack output --json --stack prod\n"
    assert capsys.readouterr().out.endswith("1 of 1 checks passed\n")


def test_a_failing_pulumi_cli_stops_with_its_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_pulumi(tmp_path / "bin", "echo 'warning: x' >&2\necho 'error: no stack named prod found' >&2\nexit 255")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert main(["--stack", "prod"]) == 2
    assert capsys.readouterr().err == (
        "smoke: pulumi stack output --stack prod failed: error: no stack named prod found\n"
    )


@pytest.mark.parametrize("argv", [["--stack", "p", "--timeout", "0"], ["--stack", "p", "--attempts", "x"], []])
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2


def test_the_program_exports_the_version_it_deploys_for_every_service_it_checks(shipped_plan: Plan) -> None:
    """`serviceVersions` is what each service's `/healthz` reports once this plan is deployed: the
    Lambda's `VERSION` and each worker's `VERSION` binding."""
    versions = shipped_plan.outputs["serviceVersions"]
    assert set(versions) == set(shipped_plan.outputs["healthUrls"])
    health = shipped_plan.one("aws:lambda/function:Function", "orchestrator-health").inputs
    assert versions["orchestrator"] == health["environment"]["variables"]["VERSION"]
    # A service is named after its worker: the component's name, or the public name clients know.
    scripts = {
        name: shipped_plan.one("cloudflare:index/workerVersion:WorkerVersion", f"{r.name}-version").inputs
        for r in shipped_plan.of_type("cloudflare:index/worker:Worker")
        for name in (r.name, r.inputs["name"])
    }
    for service, version in versions.items():
        if service == "orchestrator":
            continue
        bindings = {b["name"]: b for b in scripts[service]["bindings"]}
        assert bindings["VERSION"]["text"] == version, service
