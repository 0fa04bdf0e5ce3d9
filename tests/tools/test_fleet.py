"""`python -m tools.fleet` driving tenant stacks through the real Automation API, against a fake
`pulumi` on PATH that checks every argument against the real CLI's flags (tests/tools/fake_pulumi.py)."""

import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.components.dynamic_provider_support import FakeApi, RecordedRequest, Reply, serving
from tests.tools.fake_pulumi import Call, FakePulumi, install
from tools.fleet.cli import main
from tools.fleet.driver import POLICY_PACK, STACK_ENVIRONMENT, Driver, Operation, StackResult

HEALTHY = {"status": "ok", "version": "3f2a9c1d", "checks": {"db": "ok"}}
INSTANCE = """\
instance_id: {id}
org_id: acme
environment: {environment}
rate_limits:
  ideogram-v3: {{rpm: 10, tpm: 1000}}
api_keys: [primary]
"""


class Services(FakeApi):
    """Every tenant's `/healthz`, at `/<tenant>/healthz`; a tenant in `unhealthy` answers 503."""

    def __init__(self) -> None:
        super().__init__()
        self.unhealthy: set[str] = set()

    def answer(self, request: RecordedRequest) -> Reply:
        tenant = request.path.split("/")[1]
        if tenant in self.unhealthy:
            return Reply(503, {"status": "degraded", "version": "3f2a9c1d", "checks": {"db": "unreachable"}})
        return Reply(200, HEALTHY)

    def checked(self) -> list[str]:
        return [request.path.split("/")[1] for request in self.requests]


@dataclass
class Project:
    root: Path
    pulumi: FakePulumi
    services: Services

    def instance(self, name: str, environment: str = "prod", wave: str | int | None = None) -> None:
        text = INSTANCE.format(id=name, environment=environment)
        if wave is not None:
            text += f"wave: {wave}\n"
        (self.root / "instances" / f"{name}.yaml").write_text(text)

    def serve(self, *tenants: str, secret: str | None = None, version: str = HEALTHY["version"]) -> None:
        """What `up` leaves as each tenant stack's outputs: its health URL, the version this deploy
        gave the service (and a secret output)."""
        outputs = {
            tenant: {
                "healthUrls": {"config-service": f"{self.services.base_url}/{tenant}/healthz"},
                "serviceVersions": {"config-service": version},
                "apiKey": "k",
            }
            for tenant in tenants
        }
        self.pulumi.control(outputs=outputs, secret_outputs=["apiKey"])

    def fleet(self, *args: str) -> tuple[int, list[str]]:
        stream = io.StringIO()
        code = main([*args, "--smoke-attempts", "1", "--smoke-retry-delay", "0"], stream)
        return code, stream.getvalue().splitlines()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    root = tmp_path / "repo"
    (root / "instances").mkdir(parents=True)
    (root / "tenants").mkdir()
    (root / "tenants" / "Pulumi.yaml").write_text("name: orchestra-tenant\nruntime: python\n")
    monkeypatch.chdir(root)
    services = Services()
    with serving(services.server):
        yield Project(root, install(tmp_path / "fake-pulumi", monkeypatch), services)


def operations(calls: list[Call], command: str) -> list[Call]:
    return [call for call in calls if command in call.argv and call.argv[1] == command]


def with_event_log(argv: list[str]) -> list[str]:
    """The arguments with the event log's address, which the SDK picks per run, replaced."""
    return [
        "<event-log>" if previous == "--event-log" else arg for previous, arg in zip(["", *argv], argv, strict=False)
    ]


def progress_of(lines: list[str], tenant: str) -> list[str]:
    """One tenant's progress lines (those before the summary), its name and wave cut off."""
    progress = lines[: lines.index("")] if "" in lines else lines
    return [re.sub(r"\s+", " ", line.split(maxsplit=2)[2]) for line in progress if line.split()[:1] == [tenant]]


def test_preview_starts_new_stacks_and_passes_the_cli_exactly_what_it_accepts(project: Project) -> None:
    project.instance("acme")
    project.instance("globex")
    project.instance("acme-dev", environment="dev")
    code, lines = project.fleet("preview", "--stack-env", "prod", "--tenants", "acme,globex")
    assert code == 0
    calls = project.pulumi.calls()
    assert [call.refused for call in calls] == [None] * len(calls)
    assert calls[0].argv == ["version"]
    acme = [call.argv for call in calls if call.stack == "acme"]
    assert [with_event_log(argv) for argv in acme] == [
        ["--non-interactive", "stack", "select", "--stack", "acme"],
        ["--non-interactive", "stack", "init", "acme"],
        [
            "--non-interactive",
            "preview",
            "--policy-pack",
            str(POLICY_PACK),
            "--color",
            "never",
            "--refresh",
            "--run-program=true",
            "--exec-kind",
            "auto.local",
            "--event-log",
            "<event-log>",
            "--stack",
            "acme",
        ],
    ]
    # The pinned CLI streams the engine's events to the SDK over gRPC.
    assert operations(calls, "preview")[0].argv[-3].startswith("tcp://127.0.0.1:")
    # Every stack command takes the stack's secrets manager from its state when no stack file has it.
    stack_calls = [call for call in calls if call.stack is not None]
    assert stack_calls and all(call.environment == STACK_ENVIRONMENT for call in stack_calls)
    assert {call.stack for call in calls} == {None, "acme", "globex"}
    assert project.pulumi.stacks() == {"acme", "globex"}
    assert progress_of(lines, "acme") == ["queued", "running", "running 1 change", "done create 1"]


def test_up_deploys_wave_by_wave_and_smoke_checks_each_tenant(project: Project) -> None:
    project.instance("first", wave="canary")
    project.instance("second", wave=1)
    project.instance("third", wave=1)
    project.instance("fourth", wave=2)
    project.instance("last")
    project.serve("first", "second", "third", "fourth", "last")
    code, lines = project.fleet("up", "--stack-env", "prod", "--all", "--parallel", "4")
    assert code == 0
    calls = project.pulumi.calls()
    assert [call.refused for call in calls] == [None] * len(calls)
    ups = {call.stack: call for call in operations(calls, "up")}
    assert with_event_log(ups["first"].argv) == [
        "--non-interactive",
        "up",
        "--yes",
        "--skip-preview",
        "--policy-pack",
        str(POLICY_PACK),
        "--color",
        "never",
        "--refresh",
        "--run-program=true",
        "--exec-kind",
        "auto.local",
        "--event-log",
        "<event-log>",
        "--stack",
        "first",
    ]
    waves = [["first"], ["second", "third"], ["fourth"], ["last"]]
    for earlier, later in itertools.pairwise(waves):
        finished = max(call.end for call in calls if call.stack in earlier)
        assert all(ups[name].start > finished for name in later)
    assert sorted(project.services.checked()) == ["first", "fourth", "last", "second", "third"]
    assert progress_of(lines, "second")[-3:] == ["running 1 change", "smoke check create 1", "done create 1"]
    summary = lines[lines.index("") + 1 :]
    assert re.sub(r"\s+", " ", summary[0]) == "tenant wave result changes smoke time"
    assert re.fullmatch(r"first\s+canary\s+done\s+create 1\s+ok\s+\d+\.\ds", summary[1])
    assert re.fullmatch(r"last\s+last\s+done\s+create 1\s+ok\s+\d+\.\ds", summary[3])
    assert "5 of 5 tenants done, 0 failed, 0 not run" in lines


def test_a_failed_smoke_check_stops_the_run_before_the_next_wave(project: Project) -> None:
    project.instance("first", wave="canary")
    project.instance("second", wave="canary")
    project.instance("third", wave=1)
    project.instance("fourth")
    project.serve("first", "second", "third", "fourth")
    project.services.unhealthy.add("second")
    code, lines = project.fleet("up", "--stack-env", "prod", "--all")
    assert code == 1
    assert sorted(call.stack or "" for call in operations(project.pulumi.calls(), "up")) == ["first", "second"]
    assert sorted(project.services.checked()) == ["first", "second"]
    assert progress_of(lines, "third")[-1] == "not run wave canary failed"
    assert lines[-2:] == [
        "Failed:",
        "  second: smoke check: config-service: HTTP 503, status degraded (db: unreachable)",
    ]
    assert "1 of 4 tenants done, 1 failed, 2 not run" in lines


def test_a_failing_tenant_does_not_stop_the_others(project: Project) -> None:
    for name in ("alpha", "beta", "gamma", "delta"):
        project.instance(name)
    project.pulumi.control(fail={"beta": "403 Forbidden: the token cannot edit Workers"}, delay={"gamma": 1.0})
    code, lines = project.fleet("preview", "--stack-env", "prod", "--all", "--parallel", "2")
    assert code == 1
    assert {call.stack for call in operations(project.pulumi.calls(), "preview")} == {"alpha", "beta", "gamma", "delta"}
    assert progress_of(lines, "beta")[-1] == "failed config-service-beta: 403 Forbidden: the token cannot edit Workers"
    for name in ("alpha", "gamma", "delta"):
        assert progress_of(lines, name)[-1] == "done create 1"
    assert lines[-2:] == ["Failed:", "  beta: config-service-beta: 403 Forbidden: the token cannot edit Workers"]


def test_never_more_than_parallel_stacks_run_at_once(project: Project) -> None:
    names = ["one", "two", "three", "four", "five", "six"]
    for name in names:
        project.instance(name)
    # Each preview waits until two have arrived: the run passes only if two stacks did run at once.
    project.pulumi.control(rendezvous=2)
    code, _ = project.fleet("preview", "--stack-env", "prod", "--all", "--parallel", "2")
    assert code == 0
    calls = project.pulumi.calls()
    spans = {
        name: (min(c.start for c in calls if c.stack == name), max(c.end for c in calls if c.stack == name))
        for name in names
    }
    assert max(sum(1 for start, end in spans.values() if start <= moment < end) for moment, _ in spans.values()) == 2


def test_stacks_are_selected_one_at_a_time_and_operated_on_in_parallel(project: Project) -> None:
    names = ["one", "two", "three", "four"]
    for name in names:
        project.instance(name)
    project.pulumi.control(rendezvous=4, select_delay=0.3)
    assert project.fleet("preview", "--stack-env", "prod", "--all", "--parallel", "4")[0] == 0
    # Selecting (or starting) a stack rewrites the project's workspace.json: never two at once.
    selects = sorted(
        (call.start, call.end)
        for call in project.pulumi.calls()
        if call.argv[1:3] in (["stack", "select"], ["stack", "init"])
    )
    assert len(selects) == 8
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(selects))


def test_refresh_needs_an_existing_stack_and_never_creates_one(project: Project) -> None:
    project.instance("acme")
    project.instance("globex")
    project.pulumi.add_stack("acme")
    code, lines = project.fleet("refresh", "--stack-env", "prod", "--all")
    assert code == 1
    calls = project.pulumi.calls()
    assert not [call for call in calls if "init" in call.argv]
    assert with_event_log(operations(calls, "refresh")[0].argv) == [
        "--non-interactive",
        "refresh",
        "--skip-preview",
        "--yes",
        "--run-program=true",
        "--color",
        "never",
        "--exec-kind",
        "auto.local",
        "--event-log",
        "<event-log>",
        "--stack",
        "acme",
    ]
    assert progress_of(lines, "acme")[-1] == "done no changes"
    assert lines[-1] == "  globex: no stack named 'globex' found"


@pytest.mark.parametrize("selector", [["--all"], ["--changed", "HEAD~1..HEAD"]])
def test_destroy_never_runs_for_all_or_changed_tenants(project: Project, selector: list[str]) -> None:
    project.instance("acme")
    project.pulumi.add_stack("acme")
    code, lines = project.fleet("destroy", "--stack-env", "prod", *selector)
    assert code == 2
    assert lines == []
    assert project.pulumi.calls() == []


def test_destroy_of_named_and_removed_tenants_keeps_protected_resources(project: Project) -> None:
    project.instance("acme")
    project.pulumi.add_stack("acme")
    project.pulumi.add_stack("initech")
    assert project.fleet("destroy", "--stack-env", "prod", "--tenants", "acme")[0] == 0
    # An instance file that is gone: only --removed names its stack.
    assert project.fleet("destroy", "--stack-env", "prod", "--tenants", "initech")[0] == 2
    assert project.fleet("destroy", "--stack-env", "prod", "--removed", "acme")[0] == 2
    assert project.fleet("destroy", "--stack-env", "prod", "--removed", "initech")[0] == 0
    destroys = operations(project.pulumi.calls(), "destroy")
    assert [call.stack for call in destroys] == ["acme", "initech"]
    for call in destroys:
        assert call.refused is None
        assert with_event_log(call.argv) == [
            "--non-interactive",
            "destroy",
            "--skip-preview",
            "--yes",
            "--color",
            "never",
            "--exclude-protected",
            "--exec-kind",
            "auto.local",
            "--event-log",
            "<event-log>",
            "--stack",
            call.stack,
        ]
        assert not {"--remove", "--target-dependents", "--force"} & set(call.argv)


def test_wave_runs_only_that_wave(project: Project) -> None:
    project.instance("first", wave="canary")
    project.instance("second", wave=1)
    project.instance("third")
    project.serve("first", "second", "third")
    code, lines = project.fleet("up", "--stack-env", "prod", "--all", "--wave", "last")
    assert code == 0
    assert [call.stack for call in operations(project.pulumi.calls(), "up")] == ["third"]
    assert "1 of 1 tenants done, 0 failed, 0 not run" in lines


def test_an_older_cli_writes_the_events_to_the_file_the_sdk_tails(project: Project) -> None:
    project.instance("acme")
    project.pulumi.control(version="3.205.0")
    code, lines = project.fleet("preview", "--stack-env", "prod", "--tenants", "acme")
    assert code == 0
    event_log = operations(project.pulumi.calls(), "preview")[0].argv[-3]
    assert event_log.endswith("eventlog.txt")
    assert progress_of(lines, "acme")[-2:] == ["running 1 change", "done create 1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenants", "nobody"], "fleet: --tenants: no instance file for 'nobody' in instances"),
        (["--tenants", "acme-dev"], "fleet: --tenants: 'acme-dev' is a dev tenant, not prod"),
        (["--all", "--wave", "0"], "fleet: --wave: expected canary, a number from 1, or last; got '0'"),
        (["--removed", "gone"], "fleet: --removed: only destroy takes the stack of a removed instance file"),
        (["--changed", "main"], "fleet: --changed: expected BASE..HEAD, got 'main'"),
    ],
)
def test_bad_input_runs_nothing_and_says_why_in_one_line(
    project: Project, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    project.instance("acme")
    project.instance("acme-dev", environment="dev")
    assert project.fleet("up", "--stack-env", "prod", *args)[0] == 2
    assert capsys.readouterr().err.splitlines() == [message]
    assert project.pulumi.calls() == []


def test_a_bad_instance_file_stops_the_run_naming_the_field(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.instance("acme")
    project.instance("globex", wave="first")
    assert project.fleet("preview", "--stack-env", "prod", "--tenants", "acme")[0] == 2
    assert capsys.readouterr().err.splitlines() == [
        "fleet: instances/globex.yaml: wave: must be canary or a whole number from 1, got 'first'"
    ]
    assert project.pulumi.calls() == []


def test_without_the_tenant_project_nothing_runs(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    project.instance("acme")
    (project.root / "tenants" / "Pulumi.yaml").unlink()
    assert project.fleet("preview", "--stack-env", "prod", "--all")[0] == 2
    assert capsys.readouterr().err.splitlines() == [
        "fleet: tenants/Pulumi.yaml: the tenant project is missing (each tenant is a stack of it)"
    ]
    assert project.pulumi.calls() == []


def test_the_smoke_check_gets_the_outputs_without_secret_ones(project: Project) -> None:
    project.instance("acme")
    project.serve("acme")
    result = Driver(Path("tenants")).run(Operation.UP, "acme", lambda count: None)
    assert result == StackResult(
        {"create": 1},
        {
            "healthUrls": {"config-service": f"{project.services.base_url}/acme/healthz"},
            "serviceVersions": {"config-service": HEALTHY["version"]},
        },
    )


def test_a_tenant_still_serving_another_version_fails_its_smoke_check(project: Project) -> None:
    project.instance("first", wave="canary")
    project.instance("second", wave=1)
    project.serve("first", "second", version="9e8d7c6b")
    code, lines = project.fleet("up", "--stack-env", "prod", "--all")
    assert code == 1
    assert [call.stack for call in operations(project.pulumi.calls(), "up")] == ["first"]
    assert lines[-1] == (
        "  first: smoke check: config-service: HTTP 200 but version 3f2a9c1d, not 9e8d7c6b of this deploy: "
        "a stale deployment"
    )


def test_a_cli_older_than_the_sdk_accepts_stops_the_run(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    project.instance("acme")
    project.pulumi.control(version="3.0.0")
    assert project.fleet("preview", "--stack-env", "prod", "--all")[0] == 2
    (message,) = capsys.readouterr().err.splitlines()
    assert message.startswith("fleet: the Pulumi CLI on PATH cannot be used: Minimum version requirement failed.")
    assert [call.argv for call in project.pulumi.calls()] == [["version"]]


def test_without_a_cli_nothing_runs(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.instance("acme")
    monkeypatch.setenv("PATH", str(project.root / "no-binaries"))
    assert project.fleet("preview", "--stack-env", "prod", "--all")[0] == 2
    assert capsys.readouterr().err.splitlines() == ["fleet: the Pulumi CLI (pulumi) is not installed or not on PATH"]
