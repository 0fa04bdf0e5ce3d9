"""The order of a fleet run: canary first, then the numbered waves, then the tenants that name none."""

from collections.abc import Iterable
from dataclasses import dataclass

from systems.tenants.instances import Wave

LAST = "last"
"""How `--wave` and the summary name the wave of the tenants whose instance file names none."""


class WaveError(Exception):
    """`--wave` names no wave; one line."""


@dataclass(frozen=True)
class Tenant:
    name: str
    """The instance id, also the name of its stack."""
    wave: Wave | None = None


def wave_label(wave: Wave | None) -> str:
    return LAST if wave is None else str(wave)


def parse_wave(text: str) -> Wave | None:
    """`--wave`'s value: canary, a number from 1, or last."""
    if text == LAST:
        return None
    if text == "canary":
        return "canary"
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise WaveError(f"--wave: expected canary, a number from 1, or {LAST}; got {text!r}")


def in_waves(tenants: Iterable[Tenant]) -> list[tuple[str, list[Tenant]]]:
    """The tenants grouped by wave, the waves in deployment order, each wave's tenants by name."""
    waves: dict[Wave | None, list[Tenant]] = {}
    for tenant in sorted(tenants, key=lambda tenant: tenant.name):
        waves.setdefault(tenant.wave, []).append(tenant)
    return [(wave_label(wave), waves[wave]) for wave in sorted(waves, key=_position)]


def _position(wave: Wave | None) -> tuple[int, int]:
    if wave == "canary":
        return (0, 0)
    if wave is None:
        return (2, 0)
    return (1, int(wave))
