"""GitHub building blocks: a repository's Actions settings, environments, rules, webhooks and files."""
