"""Delivery on GitHub: each product repository's Actions settings, environments, rules, webhook and files,
and OIDC access to AWS for this program's own workflows."""
