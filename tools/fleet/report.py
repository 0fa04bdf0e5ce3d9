"""What a fleet run prints at its end: the summary table, the failures with their first error line,
and the instance files the range removed."""

from collections.abc import Sequence
from typing import TextIO

from .progress import State, one_line
from .run import Outcome, describe_changes
from .waves import wave_label

_HEADER = ("tenant", "wave", "result", "changes", "smoke", "time")


def print_summary(outcomes: Sequence[Outcome], stream: TextIO) -> None:
    rows = [_HEADER] + [
        (
            outcome.tenant.name,
            wave_label(outcome.tenant.wave),
            outcome.state.value,
            describe_changes(outcome.changes) if outcome.state is not State.NOT_RUN else "",
            outcome.smoke,
            f"{outcome.seconds:.1f}s" if outcome.state is not State.NOT_RUN else "",
        )
        for outcome in sorted(outcomes, key=lambda outcome: outcome.tenant.name)
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADER))]
    stream.write("\n")
    for row in rows:
        stream.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")
    failed = [outcome for outcome in outcomes if outcome.state is State.FAILED]
    not_run = [outcome for outcome in outcomes if outcome.state is State.NOT_RUN]
    done = len(outcomes) - len(failed) - len(not_run)
    stream.write(f"\n{done} of {len(outcomes)} tenants done, {len(failed)} failed, {len(not_run)} not run\n")
    if failed:
        stream.write("Failed:\n")
        for outcome in sorted(failed, key=lambda outcome: outcome.tenant.name):
            stream.write(f"  {outcome.tenant.name}: {one_line(outcome.problem or '')}\n")


def print_removed(removed: Sequence[str], environment: str, stream: TextIO) -> None:
    for name in removed:
        stream.write(
            f"{name}: instance file removed, needs an explicit destroy "
            f"(python -m tools.fleet destroy --stack-env {environment} --removed {name}); not deployed\n"
        )
