"""What every dynamic provider of this package shares: its error, its diff rule and its credential.

The credential comes from the stack's configuration. The engine hands a dynamic
provider the whole configuration in `configure` before any other call, in the
command being run: on `pulumi up` and `preview`, and on `refresh` and `destroy`,
which give the provider nothing of the program, only the state. So each
resource stores the name of the setting (`credential_setting`), never the
credential: a rotated token is the next command's token everywhere, refresh and
destroy included, a revoked one is never sent again once the setting holds the
new one, and rotating is no change at all to the resource.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from pulumi.dynamic import CheckFailure, ConfigureRequest, ResourceProvider
from pulumi.dynamic.config import Config
from pulumi.output import Unknown

from components.http_session import is_plausible_token

CREDENTIAL_SETTING = "credential_setting"
ENVIRONMENT_PREFIX = "$"
"""`credential_setting` `$<NAME>` names the environment variable NAME of the command being run."""
_ENVIRONMENT_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


class ProviderError(Exception):
    """A dynamic provider could not do what was asked. The message says what and never carries a
    credential; `status` is the API's HTTP status when an API answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def is_known(value: Any) -> bool:
    """False for a value a preview has not computed yet."""
    return not isinstance(value, Unknown)


def known_and_equal(olds: Mapping[str, Any], news: Mapping[str, Any], key: str) -> bool:
    return is_known(news.get(key)) and olds.get(key) == news.get(key)


def changed(olds: Mapping[str, Any], news: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """The keys whose new value is unknown or differs from the old one."""
    return [key for key in keys if not known_and_equal(olds, news, key)]


def non_empty_failures(news: Mapping[str, Any], keys: Iterable[str]) -> list[CheckFailure]:
    """A failure for each known value of `keys` that is not a non-empty string."""
    return [
        CheckFailure(key, "must be a non-empty string")
        for key in keys
        if is_known(news.get(key)) and not (isinstance(news.get(key), str) and news[key])
    ]


class ConfiguredProvider(ResourceProvider):
    """A provider whose credential is the stack setting (or environment variable) its resource names
    in `credential_setting`."""

    _config: Config | None = None

    def configure(self, req: ConfigureRequest) -> None:
        self._config = req.config

    def credential(self, props: Mapping[str, Any]) -> str:
        """The credential the stack's configuration (or, for `$<NAME>`, the command's environment)
        holds now; raises `ProviderError` if it holds none."""
        setting = props.get(CREDENTIAL_SETTING)
        if is_environment_name(setting):
            variable = setting.removeprefix(ENVIRONMENT_PREFIX)
            value = os.environ.get(variable)
            where, fix = f"environment variable {variable}", f"set {variable} in the environment of the command"
        elif is_setting_name(setting):
            value = self._config.get(setting) if self._config is not None else None
            where, fix = f"stack setting {setting}", f"set it with `pulumi config set --secret {setting}`"
        else:
            raise ProviderError(
                f"{CREDENTIAL_SETTING} must name a stack setting, <namespace>:<key>, or an environment "
                f"variable, $<NAME>; got {setting!r}"
            )
        if not is_plausible_token(value):
            state = "is not set" if value is None or value == "" else "is not a credential (blank, or with whitespace)"
            raise ProviderError(f"{where} {state}: it holds this resource's credential; {fix}")
        return str(value)

    def credential_failures(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """What `check` reports when the credential cannot be had, so a preview says it in one line."""
        if not is_known(news.get(CREDENTIAL_SETTING)):
            return []
        try:
            self.credential(news)
        except ProviderError as error:
            return [CheckFailure(CREDENTIAL_SETTING, str(error))]
        return []


def is_setting_name(value: Any) -> TypeGuard[str]:
    """`<namespace>:<key>`, as the engine hands dynamic providers every setting."""
    if not isinstance(value, str):
        return False
    namespace, _, key = value.partition(":")
    return bool(namespace) and bool(key) and value.isprintable() and not any(c.isspace() for c in value)


def is_environment_name(value: Any) -> TypeGuard[str]:
    """`$<NAME>`, an environment variable's name in capitals."""
    return (
        isinstance(value, str)
        and value.startswith(ENVIRONMENT_PREFIX)
        and _ENVIRONMENT_NAME.fullmatch(value.removeprefix(ENVIRONMENT_PREFIX)) is not None
    )
