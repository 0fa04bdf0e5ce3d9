"""`python -m tools.rollouts rollbacks|promotions LOG`: prints each automatic rollback, or each
promotion, `pulumi up` reported in LOG, one a line; nothing when there was none. Exits 2 when
LOG cannot be read."""

import sys
from pathlib import Path

from . import automatic_rollbacks, promotions

READERS = {"rollbacks": automatic_rollbacks, "promotions": promotions}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in READERS:
        print("usage: python -m tools.rollouts rollbacks|promotions LOG", file=sys.stderr)
        return 2
    try:
        log = Path(argv[1]).read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        print(f"rollouts: {argv[1]}: cannot be read ({error.strerror})", file=sys.stderr)
        return 2
    for line in READERS[argv[0]](log):
        print(line)
    return 0


raise SystemExit(main(sys.argv[1:]))
