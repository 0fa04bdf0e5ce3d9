"""`python -m tools.instances validate [FILE ...]`: validate instance files (default: all of `instances/`).

Exit status 0 when every file is valid, 2 with one line per problem otherwise.
"""

import argparse
import sys
from pathlib import Path

from systems.tenants.instances import InstanceError, load_instance, load_instances

DEFAULT_DIRECTORY = Path("instances")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.instances", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="validate instance files")
    validate.add_argument("files", nargs="*", type=Path, help="instance files (default: the whole directory)")
    validate.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY, help="where instance files live")
    args = parser.parse_args(argv)
    try:
        # A single new file must also be unique among the existing ones, so the directory is always read.
        for path in args.files:
            load_instance(path)
        instances = load_instances(args.directory)
    except InstanceError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{len(instances)} instance file(s) valid in {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
