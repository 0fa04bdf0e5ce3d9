"""`python -m tools.credential_expiry`: see cli.py."""

from .cli import main

raise SystemExit(main())
