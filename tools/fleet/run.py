"""A fleet run: every selected tenant stack through the pool, `up` wave by wave behind each wave's smoke checks."""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .driver import Driver, Operation
from .pool import run_pool
from .progress import Progress, State
from .smoke import SmokeSettings, smoke_problem
from .waves import Tenant, in_waves


@dataclass(frozen=True)
class Outcome:
    tenant: Tenant
    state: State
    """DONE, FAILED or NOT_RUN."""
    changes: dict[str, int] = field(default_factory=dict)
    problem: str | None = None
    """Why it failed (the first error line, or the smoke check's problem) or was not run."""
    smoke: str = ""
    """After `up`: ok or failed; empty when no smoke check ran."""
    seconds: float = 0.0


@dataclass(frozen=True)
class Fleet:
    driver: Driver
    progress: Progress
    parallel: int
    smoke: SmokeSettings

    def run(self, operation: Operation, tenants: Sequence[Tenant]) -> list[Outcome]:
        # Only a deploy is gated by waves; a preview, refresh or destroy runs all its tenants in one pool.
        waves = in_waves(tenants) if operation is Operation.UP else [("", sorted(tenants, key=lambda t: t.name))]
        outcomes: list[Outcome] = []
        for index, (label, wave) in enumerate(waves):
            results = run_pool(wave, lambda tenant: self._job(operation, tenant), self._crashed, self.parallel)
            outcomes += results
            if operation is Operation.UP and any(result.state is State.FAILED for result in results):
                reason = f"wave {label} failed"
                for _, later in waves[index + 1 :]:
                    for tenant in later:
                        self.progress.set(tenant.name, State.NOT_RUN, reason)
                        outcomes.append(Outcome(tenant, State.NOT_RUN, problem=reason))
                break
        return outcomes

    def _job(self, operation: Operation, tenant: Tenant) -> Outcome:
        started = time.monotonic()
        self.progress.set(tenant.name, State.RUNNING)
        result = self.driver.run(operation, tenant.name, lambda count: self.progress.changes(tenant.name, count))
        changes = describe_changes(result.changes)
        if result.error is not None:
            self.progress.set(tenant.name, State.FAILED, result.error)
            return Outcome(tenant, State.FAILED, result.changes, result.error, seconds=time.monotonic() - started)
        smoke = ""
        if operation is Operation.UP:
            self.progress.set(tenant.name, State.SMOKE, changes)
            problem = smoke_problem(tenant.name, result.outputs, self.smoke)
            if problem is not None:
                self.progress.set(tenant.name, State.FAILED, f"smoke check: {problem}")
                return Outcome(
                    tenant,
                    State.FAILED,
                    result.changes,
                    f"smoke check: {problem}",
                    "failed",
                    time.monotonic() - started,
                )
            smoke = "ok"
        self.progress.set(tenant.name, State.DONE, changes)
        return Outcome(tenant, State.DONE, result.changes, smoke=smoke, seconds=time.monotonic() - started)

    def _crashed(self, tenant: Tenant, error: Exception) -> Outcome:
        text = str(error).strip()
        problem = f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
        self.progress.set(tenant.name, State.FAILED, problem)
        return Outcome(tenant, State.FAILED, problem=problem)


def describe_changes(changes: dict[str, int]) -> str:
    return ", ".join(f"{op} {count}" for op, count in sorted(changes.items())) or "no changes"
