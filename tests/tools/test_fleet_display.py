"""The fleet's progress lines (live on a terminal, one per change in a log), its summary and its wave order."""

import io
import re

import pytest

from tools.fleet import progress as progress_module
from tools.fleet.progress import Progress, State, one_line
from tools.fleet.report import print_summary
from tools.fleet.run import Outcome
from tools.fleet.waves import Tenant, in_waves, parse_wave


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def last_frame(output: str) -> list[str]:
    frame = re.split(r"\x1b\[\d+F", output)[-1]
    return [line.removeprefix("\x1b[2K") for line in frame.removesuffix("\x1b[J").splitlines()]


def test_a_log_gets_one_line_per_change_of_a_tenant() -> None:
    stream = io.StringIO()
    progress = Progress([Tenant("acme", "canary"), Tenant("globex-eu")], stream, live=False)
    progress.set("acme", State.RUNNING)
    progress.changes("acme", 1)
    progress.changes("acme", 1)
    progress.changes("acme", 2)
    progress.set("acme", State.DONE, "create 2")
    progress.set("globex-eu", State.FAILED, "config-service-globex-eu: 403\n::error::forged")
    assert stream.getvalue().splitlines() == [
        "acme       canary  queued",
        "globex-eu  last    queued",
        "acme       canary  running",
        "acme       canary  running  1 change",
        "acme       canary  running  2 changes",
        "acme       canary  done  create 2",
        "globex-eu  last    failed  config-service-globex-eu: 403\\n::error::forged",
    ]


def test_a_terminal_gets_the_lines_redrawn_in_place() -> None:
    stream = Terminal()
    progress = Progress([Tenant("acme"), Tenant("globex")], stream, live=True)
    progress.set("globex", State.RUNNING)
    progress.set("acme", State.DONE, "no changes")
    output = stream.getvalue()
    assert output.count("\x1b[2F") == 2  # three frames: the first, then two redraws
    assert last_frame(output) == ["acme    last    done  no changes", "globex  last    running"]


def test_a_fleet_taller_than_the_terminal_shows_what_moves_and_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress_module.shutil, "get_terminal_size", lambda: __import__("os").terminal_size((80, 6)))
    stream = Terminal()
    names = [f"tenant-{n}" for n in range(10)]
    progress = Progress([Tenant(name) for name in names], stream, live=True)
    progress.set("tenant-3", State.RUNNING)
    progress.set("tenant-7", State.FAILED, "boom")
    progress.set("tenant-1", State.DONE, "no changes")
    assert last_frame(stream.getvalue()) == [
        "tenant-3  last    running",
        "tenant-7  last    failed  boom",
        "7 queued, 1 running, 1 done, 1 failed",
    ]


def test_one_line_escapes_control_characters_and_cuts_long_text() -> None:
    assert one_line("a\x1b[2Jb\r\n") == "a\\x1b[2Jb\\r\\n"
    long = one_line("x" * 500)
    assert len(long) == progress_module.MAX_DETAIL and long.endswith("…")


def test_the_summary_lists_every_tenant_and_the_failures() -> None:
    stream = io.StringIO()
    outcomes = [
        Outcome(
            Tenant("globex", 1), State.FAILED, {"create": 1}, "smoke check: config-service: HTTP 503", "failed", 2.04
        ),
        Outcome(Tenant("acme", "canary"), State.DONE, {"update": 2, "create": 1}, smoke="ok", seconds=12.5),
        Outcome(Tenant("initech"), State.NOT_RUN, problem="wave 1 failed"),
    ]
    print_summary(outcomes, stream)
    assert stream.getvalue().splitlines() == [
        "",
        "tenant   wave    result   changes             smoke   time",
        "acme     canary  done     create 1, update 2  ok      12.5s",
        "globex   1       failed   create 1            failed  2.0s",
        "initech  last    not run",
        "",
        "1 of 3 tenants done, 1 failed, 1 not run",
        "Failed:",
        "  globex: smoke check: config-service: HTTP 503",
    ]


def test_waves_run_canary_then_by_number_then_the_unnamed() -> None:
    tenants = [Tenant("e"), Tenant("d", 10), Tenant("c", 2), Tenant("b", "canary"), Tenant("a", 2), Tenant("f")]
    assert [(label, [t.name for t in wave]) for label, wave in in_waves(tenants)] == [
        ("canary", ["b"]),
        ("2", ["a", "c"]),
        ("10", ["d"]),
        ("last", ["e", "f"]),
    ]
    assert [parse_wave(text) for text in ("canary", "3", "last")] == ["canary", 3, None]
