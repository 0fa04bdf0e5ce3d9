"""The affected tenants as GitHub Actions matrices, one per wave in deployment order: what the
deploy workflow fans out to one job per tenant stack, wave after wave."""

import json
from collections.abc import Sequence
from typing import Any

from .removal import removal
from .selection import Selection
from .waves import in_waves


class MatrixError(Exception):
    """The selection does not fit the workflow; one line."""


def wave_matrices(chosen: Selection, max_waves: int, pull_request_body: str = "") -> dict[str, Any]:
    """`{"waves": [{"wave": "canary", "include": [{"tenant": "acme"}, ...]}, ...], "removed": [...],
    "destroy": [...], "unmatched": [...]}`.

    Each wave's `include` is a matrix of its own; the workflow has `max_waves` dependent wave jobs,
    so a selection naming more waves than that is refused rather than run out of order. Of the
    removed tenants, `destroy` holds those the pull request's body asks to destroy (removal.py)."""
    waves = in_waves(chosen.tenants)
    if len(waves) > max_waves:
        labels = ", ".join(label for label, _ in waves)
        raise MatrixError(
            f"the tenants to deploy are in {len(waves)} waves ({labels}), the workflow runs at most {max_waves}: "
            "give fewer distinct `wave:` values"
        )
    decided = removal(chosen.removed, pull_request_body)
    return {
        "waves": [
            {"wave": label, "include": [{"tenant": tenant.name} for tenant in tenants]} for label, tenants in waves
        ],
        "removed": list(chosen.removed),
        "destroy": list(decided.destroy),
        "unmatched": list(decided.unmatched),
    }


def github_outputs(matrices: dict[str, Any], slots: int) -> Sequence[str]:
    """`wave-1` ... `wave-<slots>` (each wave's JSON, or empty when the deploy has fewer waves), then
    `removed`, `destroy` (comma-separated, for `fleet destroy --removed`) and `unmatched`."""
    waves = matrices["waves"]
    lines = [f"wave-{index + 1}={json.dumps(waves[index]) if index < len(waves) else ''}" for index in range(slots)]
    return [
        *lines,
        f"removed={' '.join(matrices['removed'])}",
        f"destroy={','.join(matrices['destroy'])}",
        f"unmatched={' '.join(matrices['unmatched'])}",
    ]
