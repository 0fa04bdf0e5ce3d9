# The rate limiters are deployed against the fake Cloudflare API of the building-block tests.
from tests.components.cloudflare.conftest import cloudflare

__all__ = ["cloudflare"]
