"""A Discord application, as the program manages it through its bot."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from ..providers.slash_commands import SlashCommands


@dataclass(frozen=True)
class DiscordApplication:
    application_id: str
    """The application's id, a snowflake (Developer Portal → General Information)."""
    bot_token_setting: str
    """The stack setting (`<namespace>:<key>`) that holds the bot's token. The commands' provider reads
    it in each command, refresh and destroy included, so no resource stores the token."""

    def register_commands(
        self,
        name: str,
        commands: pulumi.Input[Sequence[Mapping[str, Any]]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> SlashCommands:
        """Makes the application's global slash commands exactly `commands` (Discord's
        application-command objects), with the bot's token."""
        return SlashCommands(
            name,
            application_id=self.application_id,
            credential_setting=self.bot_token_setting,
            commands=commands,
            opts=opts,
        )
