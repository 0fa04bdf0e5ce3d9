# The providers are tested against the same fakes as the Cloudflare blocks.
from tests.components.cloudflare.conftest import cloudflare, monitor

__all__ = ["cloudflare", "monitor"]
