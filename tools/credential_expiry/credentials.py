"""Which credentials a stack holds, read from `pulumi config --show-secrets --json` (handed over
in STACK_CONFIG, never as an argument) and the delivery token's environment secret, and the
check each one gets."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from stack_config.model import StackConfig

from . import cloudflare, discord, email_api, github, image_api
from .finding import Finding

CONFIG_VARIABLE = "STACK_CONFIG"
DELIVERY_TOKEN_VARIABLE = "ORCHESTRA_GITHUB_TOKEN"  # noqa: S105 - the name of a variable, not its value
NAMESPACE = "orchestra"


class SettingsError(Exception):
    """The stack's configuration cannot be read; one line, without a value of it."""


@dataclass(frozen=True)
class Endpoints:
    github: str = "https://api.github.com"
    cloudflare: str = cloudflare.API_URL
    discord: str = discord.API_URL


@dataclass(frozen=True)
class Credential:
    name: str
    """The setting (`orchestra:<key>`) or environment secret that holds it."""
    secret: str


def settings(environ: Mapping[str, str]) -> dict[str, str]:
    """`orchestra:*` setting (camelCase, without the namespace) to its value, with the model's defaults."""
    text = environ.get(CONFIG_VARIABLE, "")
    if not text.strip():
        raise SettingsError(f"{CONFIG_VARIABLE} is not set: it holds the stack's `pulumi config --show-secrets --json`")
    try:
        config = json.loads(text)
    except ValueError:
        raise SettingsError(f"{CONFIG_VARIABLE} is not JSON") from None
    if not isinstance(config, dict):
        raise SettingsError(f"{CONFIG_VARIABLE} must be a JSON object of setting to {{value, secret}}")
    found = {}
    for key, entry in config.items():
        if isinstance(key, str) and key.startswith(f"{NAMESPACE}:") and isinstance(entry, dict):
            value = entry.get("value")
            if isinstance(value, str):
                found[key.removeprefix(f"{NAMESPACE}:")] = value
    defaults = {
        field.alias or name: field.default
        for name, field in StackConfig.model_fields.items()
        if isinstance(field.default, str)
    }
    return defaults | found


SETTINGS = ("githubCredential", "cloudflareApiToken", "discordBotToken", "emailApiKey", "imageApiKey")


def held_by(values: Mapping[str, str], environ: Mapping[str, str]) -> list[Credential]:
    held = [Credential(f"{NAMESPACE}:{setting}", values.get(setting, "")) for setting in SETTINGS]
    # The GitHub provider's token is needed, and given to the plan environment, only where the
    # stack manages delivery.
    if values.get("deliveryFile"):
        held.append(Credential(DELIVERY_TOKEN_VARIABLE, environ.get(DELIVERY_TOKEN_VARIABLE, "")))
    return held


def check(
    stack: str, credential: Credential, values: Mapping[str, str], endpoints: Endpoints, now: datetime
) -> Finding:
    name, secret = credential.name, credential.secret
    if not secret.strip():
        return Finding(name, stack, "failed", None, None, "not set for this stack")
    setting = name.removeprefix(f"{NAMESPACE}:")
    if setting == "githubCredential" and values.get("githubAuth") == "app":
        return github.check_app_key(name, stack, values.get("githubAppId", ""), secret, endpoints.github, now)
    if setting in ("githubCredential", DELIVERY_TOKEN_VARIABLE):
        return github.check_token(name, stack, secret, endpoints.github, now)
    if setting == "cloudflareApiToken":
        account_id = values.get("cloudflareAccountId", "")
        return cloudflare.check_token(name, stack, secret, account_id, endpoints.cloudflare, now)
    if setting == "discordBotToken":
        return discord.check_bot_token(name, stack, secret, endpoints.discord, now)
    if setting == "emailApiKey":
        return email_api.check_key(name, stack, secret, values["emailApiUrl"], now)
    if setting == "imageApiKey":
        return image_api.check_key(name, stack, secret, values["imageApiUrl"], now)
    raise ValueError(f"{name}: no check for this credential")
