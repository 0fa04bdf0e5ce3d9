"""What the infrastructure hands the orchestrator's functions, and what they read: one list.

``system.py`` sets these and the handlers read them. It lives in the packaged handler tree so
the functions ship it, and imports nothing, so neither the Pulumi program nor a cold start
pays for it.
"""

# Environment variables, by who reads them.
RUNS_TABLE_NAME = "RUNS_TABLE_NAME"
"""Every function: the runs table."""
RUN_TTL_DAYS = "RUN_TTL_DAYS"
"""Every function: how long a run is kept, in days (at least 1)."""
VERSION = "VERSION"
"""Every function: the package's hash, set by the ``Function`` building block; ``/healthz`` reports it."""
ERROR_TRACKING_DSN_SECRET_ARN = "ERROR_TRACKING_DSN_SECRET_ARN"  # noqa: S105 -- the name of a variable holding an ARN
"""Every function, when the stack reports errors: the Sentry DSN (``error_tracking.py``)."""
ERROR_TRACKING_ENVIRONMENT = "ERROR_TRACKING_ENVIRONMENT"
"""Every function, when the stack reports errors: the stack, each event's environment."""
ORCHESTRATOR_ACCESS = "ORCHESTRATOR_ACCESS"
"""The endpoints and the worker: the access file as JSON (``access.py`` reads it)."""
WORK_QUEUE_URL = "WORK_QUEUE_URL"
"""The endpoints: where they queue work."""
DISCORD_PUBLIC_KEY_SECRET_ARN = "DISCORD_PUBLIC_KEY_SECRET_ARN"  # noqa: S105 -- the name of a variable holding an ARN
"""The Discord endpoint: the key interactions are verified with."""
GITHUB_WEBHOOK_SECRET_ARN = "GITHUB_WEBHOOK_SECRET_ARN"  # noqa: S105 -- the name of a variable holding an ARN
"""The GitHub endpoint: the key deliveries are signed with."""
GITHUB_CREDENTIALS_SECRET_ARN = "GITHUB_CREDENTIALS_SECRET_ARN"  # noqa: S105 -- the name of a variable holding an ARN
"""The worker: the GitHub App's id and private key, or a token, as JSON."""
DISCORD_BOT_TOKEN_SECRET_ARN = "DISCORD_BOT_TOKEN_SECRET_ARN"  # noqa: S105 -- the name of a variable holding an ARN
"""The worker: the bot token it posts to channels with."""
DISCORD_APPLICATION_ID = "DISCORD_APPLICATION_ID"
"""The worker: the application whose deferred answers it edits."""
DISCORD_API_URL = "DISCORD_API_URL"
"""The worker: Discord's REST API root."""
GITHUB_API_URL = "GITHUB_API_URL"
"""The worker: GitHub's REST API root (GitHub Enterprise has its own)."""
EFFECT_LEASE_SECONDS = "EFFECT_LEASE_SECONDS"
"""The worker: how long a claim on an effect lasts."""
CALL_DEADLINE_SECONDS = "CALL_DEADLINE_SECONDS"
"""The worker: how long one call to GitHub or Discord may take, retries included."""

# The public APIs, as a deployment sets them by default.
PUBLIC_DISCORD_API_URL = "https://discord.com/api/v10"
PUBLIC_GITHUB_API_URL = "https://api.github.com"

# The runs table's key schema; every other attribute is the run store's own.
RUN_ID = "run_id"
"""The hash key: a run's id, or a prefixed id of a small item beside the runs."""
RUN_MONTH = "run_month"
"""``YYYY-MM`` of a run's creation: the recent-runs index's hash key; only runs have it."""
CREATED_AT = "created_at"
"""ISO-8601 UTC of a run's creation: the recent-runs index's range key."""
EXPIRES_AT = "expires_at"
"""Epoch seconds after which DynamoDB deletes the item (the table's TTL)."""
RECENT_RUNS_INDEX = "recent_runs"
