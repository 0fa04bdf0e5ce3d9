"""`python -m tools.rollout_failures LOG`: prints each automatic rollback `pulumi up` reported in
LOG, one a line; nothing when there was none. Exits 2 when LOG cannot be read."""

import sys
from pathlib import Path

from . import automatic_rollbacks


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.rollout_failures LOG", file=sys.stderr)
        return 2
    try:
        log = Path(argv[0]).read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        print(f"rollout-failures: {argv[0]}: cannot be read ({error.strerror})", file=sys.stderr)
        return 2
    for line in automatic_rollbacks(log):
        print(line)
    return 0


raise SystemExit(main(sys.argv[1:]))
