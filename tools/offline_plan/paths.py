"""How a position inside a nested value is written: `environment.variables.TABLE`, `statements[0]`."""

import re

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def child_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    # Keys that would read as path syntax (dots, brackets, spaces) are quoted.
    segment = key if _PLAIN_KEY.match(key) else f'["{key}"]'
    if not parent:
        return segment
    return f"{parent}{segment}" if segment.startswith("[") else f"{parent}.{segment}"
