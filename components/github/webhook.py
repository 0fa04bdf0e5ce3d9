"""A repository webhook delivering JSON, signed with a shared secret, over verified TLS."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_github as github


@dataclass(frozen=True)
class WebhookArgs:
    repository: pulumi.Input[str]
    url: pulumi.Input[str]
    secret: pulumi.Input[str]
    """The HMAC key GitHub signs each delivery with (`X-Hub-Signature-256`); wrapped as a Pulumi secret here."""
    events: Sequence[str]
    """The events the receiver handles; GitHub also sends `ping` when the hook is created."""


class Webhook(pulumi.ComponentResource):
    webhook: github.RepositoryWebhook

    def __init__(self, name: str, args: WebhookArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:github:Webhook", name, None, opts)
        if not args.events or len(set(args.events)) != len(args.events):
            raise ValueError(f"webhook {name}: events must be distinct and at least one")
        self.webhook = github.RepositoryWebhook(
            name,
            repository=args.repository,
            events=sorted(args.events),
            active=True,
            configuration=github.RepositoryWebhookConfigurationArgs(
                url=args.url,
                content_type="json",
                insecure_ssl=False,
                secret=pulumi.Output.secret(args.secret),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"events": sorted(args.events)})
