"""The live progress of a fleet run: one line per tenant, redrawn in place on a terminal, or one
printed line per change of a tenant's state when the output is a log (CI)."""

import shutil
import threading
from collections.abc import Sequence
from enum import Enum
from typing import TextIO

from .waves import Tenant, wave_label

MAX_DETAIL = 160
"""A provider's error message is cut to this length on a progress or summary line."""


class State(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SMOKE = "smoke check"
    DONE = "done"
    FAILED = "failed"
    NOT_RUN = "not run"


class Progress:
    def __init__(self, tenants: Sequence[Tenant], stream: TextIO, live: bool) -> None:
        self._stream = stream
        self._live = live
        self._order = [tenant.name for tenant in tenants]
        self._waves = {tenant.name: wave_label(tenant.wave) for tenant in tenants}
        self._width = max((len(name) for name in self._order), default=0)
        self._lines: dict[str, str] = {}
        self._states: dict[str, State] = {}
        self._drawn = 0
        self._lock = threading.Lock()
        for name in self._order:
            self._lines[name] = self._line(name, State.QUEUED, "")
            self._states[name] = State.QUEUED
        if live:
            self._redraw()
        else:
            self._stream.writelines(line + "\n" for line in self._lines.values())
        self._stream.flush()

    def set(self, name: str, state: State, detail: str = "") -> None:
        line = self._line(name, state, detail)
        with self._lock:
            if self._lines[name] == line:
                return
            self._lines[name] = line
            self._states[name] = state
            if self._live:
                self._redraw()
            else:
                self._stream.write(line + "\n")
            self._stream.flush()

    def changes(self, name: str, count: int) -> None:
        self.set(name, State.RUNNING, f"{count} change{'s' if count != 1 else ''}")

    def _line(self, name: str, state: State, detail: str) -> str:
        line = f"{name:<{self._width}}  {self._waves[name]:<6}  {state.value}"
        return f"{line}  {one_line(detail)}" if detail else line

    def _redraw(self) -> None:
        rows = max(shutil.get_terminal_size().lines - 2, 3)
        lines = [self._lines[name] for name in self._order]
        if len(lines) > rows:
            # Taller than the terminal: the lines still moving or failed, and a count of the others.
            active = [self._lines[n] for n in self._order if self._states[n] in (State.RUNNING, State.SMOKE)]
            failed = [self._lines[n] for n in self._order if self._states[n] is State.FAILED]
            states = list(self._states.values())
            counts = [f"{states.count(state)} {state.value}" for state in State if state in states]
            lines = [*(active + failed)[: rows - 1], ", ".join(counts)]
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self._stream.write(up + "".join(f"\x1b[2K{line}\n" for line in lines) + "\x1b[J")
        self._drawn = len(lines)


def one_line(text: str) -> str:
    """Safe to print on one line of a CI log: control characters escaped (no forged log lines or
    workflow commands), and cut short."""
    escaped = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return escaped if len(escaped) <= MAX_DETAIL else escaped[: MAX_DETAIL - 1] + "…"
