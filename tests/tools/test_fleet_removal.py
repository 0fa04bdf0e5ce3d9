"""A removed tenant's stack is destroyed only when the merged pull request names it on a line of its own."""

import pytest

from tools.fleet.removal import Removal, removal, requested_destroys


@pytest.mark.parametrize(
    ("body", "requested"),
    [
        ("Destroy tenant stack: hooli", ["hooli"]),
        ("Retire two.\n\n  Destroy tenant stack:   hooli  \nDestroy tenant stack: initech\n", ["hooli", "initech"]),
        ("Destroy tenant stack: hooli\r\nDestroy tenant stack: hooli\r\n", ["hooli"]),
        ("Destroy tenant stack: hooli\rDestroy tenant stack: wayne", ["hooli", "wayne"]),
        # Anything else on the line, or another spelling, asks nothing.
        ("Please Destroy tenant stack: hooli", []),
        ("Destroy tenant stack: hooli and initech", []),
        ("destroy tenant stack: hooli", []),
        ("Destroy tenant stack:", []),
        ("`Destroy tenant stack: <id>` is how a removal is asked for", []),
        ("", []),
    ],
)
def test_only_a_line_of_its_own_asks_for_a_destroy(body: str, requested: list[str]) -> None:
    assert requested_destroys(body) == requested


def test_removed_tenants_are_split_by_what_the_pull_request_asks() -> None:
    body = "Destroy tenant stack: hooli\nDestroy tenant stack: acme\n"
    assert removal(["initech", "hooli"], body) == Removal(destroy=("hooli",), kept=("initech",), unmatched=("acme",))


def test_without_a_request_nothing_is_destroyed() -> None:
    assert removal(["hooli"], "Remove hooli's instance file.") == Removal(destroy=(), kept=("hooli",), unmatched=())
