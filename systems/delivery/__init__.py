"""Delivery on GitHub: each product repository's Actions settings, environments, rules, webhook and files,
and the AWS role each of this program's own environments assumes."""
