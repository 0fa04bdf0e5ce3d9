"""`python -m tools.rollback_check`: see cli.py."""

from .cli import main

raise SystemExit(main())
