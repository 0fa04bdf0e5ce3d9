"""`python -m tools.fleet`: see cli.py."""

from .cli import main

raise SystemExit(main())
