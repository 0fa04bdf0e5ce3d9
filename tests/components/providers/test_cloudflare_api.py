from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.providers.cloudflare_api import call
from components.providers.provider import ProviderError
from tests.components.cloudflare.support import (
    ACCOUNT_ID,
    TOKEN,
    FakeCloudflare,
    Reply,
    failure,
    success,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
PATH = f"/accounts/{ACCOUNT_ID}/vectorize/v2/indexes/missing"


def test_call_returns_the_result_of_cloudflares_envelope(cloudflare: FakeCloudflare) -> None:
    cloudflare.scripted.append(Reply(200, success({"name": "missing"})))

    assert call("GET", cloudflare.api_base + "/", PATH, TOKEN) == {"name": "missing"}
    [request] = cloudflare.requests
    assert (request.method, request.path) == ("GET", f"/client/v4{PATH}")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_success_false_is_an_error_even_with_status_200(cloudflare: FakeCloudflare) -> None:
    cloudflare.scripted.append(Reply(200, failure(1000, "Something went wrong")))

    with pytest.raises(ProviderError, match=r"HTTP 200 OK: \[1000\] Something went wrong") as failed:
        call("GET", cloudflare.api_base, PATH, TOKEN)

    assert failed.value.status == 200


def test_every_cloudflare_error_is_named(cloudflare: FakeCloudflare) -> None:
    errors = [{"code": 10000, "message": "Authentication error"}, {"code": 9109, "message": "Invalid access token"}]
    cloudflare.scripted.append(Reply(401, {"success": False, "errors": errors, "messages": [], "result": None}))

    with pytest.raises(ProviderError) as failed:
        call("GET", cloudflare.api_base, PATH, TOKEN)

    assert str(failed.value) == (
        f"Cloudflare GET {PATH} failed: "
        "HTTP 401 Unauthorized: [10000] Authentication error; [9109] Invalid access token"
    )
    assert TOKEN not in repr(failed.value.args)


def test_a_body_that_is_not_cloudflares_envelope_is_shown_briefly(cloudflare: FakeCloudflare) -> None:
    page = "<html>" + "blocked " * 100 + "</html>"
    cloudflare.scripted.append(Reply(403, page.encode(), {"Content-Type": "text/html"}))

    with pytest.raises(ProviderError) as failed:
        call("DELETE", cloudflare.api_base, PATH, TOKEN)

    assert str(failed.value) == f"Cloudflare DELETE {PATH} failed: HTTP 403 Forbidden: {page[:200]}"


def test_a_request_that_gets_no_answer_is_the_providers_one_error() -> None:
    with pytest.raises(ProviderError, match="got no answer") as failed:
        call("GET", "http://127.0.0.1:9", PATH, TOKEN)

    assert failed.value.status is None
    assert TOKEN not in str(failed.value)


def test_the_providers_do_not_import_the_cloudflare_sdk() -> None:
    # pulumi_cloudflare costs seconds and over 100 MB in every provider process.
    modules = sorted(path.stem for path in (PROJECT_ROOT / "components" / "providers").glob("*.py"))
    probe = (
        f"import sys, importlib; [importlib.import_module('components.providers.' + m) for m in {modules!r}];"
        "print(sorted(m for m in sys.modules if m.startswith('pulumi_cloudflare')))"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "[]"
