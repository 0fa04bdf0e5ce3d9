"""Run one job per item, at most N at a time; one job's failure never stops the others.

Threads, not processes: each job spends its time waiting on the `pulumi` CLI, a child process
the Automation API starts and blocks on (the GIL is released while it waits), and the progress
display takes the jobs' engine events in this process, which threads share without any IPC.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_pool(
    items: Sequence[Item],
    job: Callable[[Item], Result],
    crashed: Callable[[Item, Exception], Result],
    parallel: int,
) -> list[Result]:
    """`job(item)` for every item, in the items' order; an exception a job raises becomes `crashed(item, error)`."""

    def isolated(item: Item) -> Result:
        try:
            return job(item)
        except Exception as error:  # one tenant's surprise must not end the others' runs
            return crashed(item, error)

    executor = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="fleet")
    try:
        futures = [executor.submit(isolated, item) for item in items]
        return [future.result() for future in futures]
    except KeyboardInterrupt:
        # The CLIs got the same SIGINT and cancel their operations; jobs not started yet never start.
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        executor.shutdown(wait=True)
