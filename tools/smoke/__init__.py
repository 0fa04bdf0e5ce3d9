"""`python -m tools.smoke`: after a deploy, check that every service of a stack answers `GET /healthz`."""
