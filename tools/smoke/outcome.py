"""What one check of the smoke run found: a line of its own, ok or FAIL."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    service: str
    subject: str
    """What was checked: the health URL, or what a user does (`sign-in`, `chat`, `api keys`)."""
    problem: str | None
    """None when it passed; else one line saying what is wrong, with the figure that is."""
    detail: str = ""
    """What it found when it passed."""

    @property
    def ok(self) -> bool:
        return self.problem is None
