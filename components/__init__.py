"""Building blocks, one provider each, that know nothing of Orchestra.

The resources whose provider is this project's own code live in `providers`,
whose module paths never change (see `providers/__init__.py`).
"""
