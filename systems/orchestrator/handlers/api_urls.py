"""The public APIs the worker calls; a deployment sets them (GitHub Enterprise has its own)."""

GITHUB_API_URL = "https://api.github.com"
DISCORD_API_URL = "https://discord.com/api/v10"
