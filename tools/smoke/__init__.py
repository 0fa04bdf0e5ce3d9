"""`python -m tools.smoke`: after a deploy, check that every service of a stack works as its users use it."""
