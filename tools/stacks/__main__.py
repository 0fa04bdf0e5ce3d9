"""`python -m tools.stacks`: see cli.py."""

from .cli import main

raise SystemExit(main())
