"""Partner apps (a parcel pick-up app's notices): one signed JSON POST per recipient.

```toml
[[placements]]
channel = "webhook"
endpoint = "parcel"                      # one of [channels.webhook] endpoints
audience = { lists = ["residents"], areas = ["residential"] }
message = "Stay safe: report gang crime on 110."
```

Person-addressed like SMS: one row per contact (the E.164 phone), opted-out contacts
skipped; no line-type check (the partner knows its users by phone number). Sending and
its retry rules are in :mod:`channels.webhook.client`, the wire format in
:mod:`channels.webhook.wire`. The partner acknowledges each notice later by posting to
the row's callback URL; that makes the row ``delivered`` (or ``undelivered``).

Reach: ``message_times``, rows sent or delivered (gross: one per notice, not per person).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

from channels.audience import got, parse_audience, planned_audience
from channels.base import (
    CallbackReceiver,
    CallbackRequest,
    Capabilities,
    Channel,
    ChannelBase,
    ContentDescriber,
    ContentFact,
    InboundMessage,
    Inventory,
    LookupResult,
    Message,
    Placement,
    PlacementContent,
    Problem,
    ReachFigure,
    Receipt,
    Sender,
    SendResult,
    SignatureError,
    Target,
    ValidationContext,
    rows_in,
)
from channels.once import Once
from channels.placement_checks import name_problem, text_problem, unknown_keys
from channels.webhook.client import PartnerClient
from channels.webhook.settings import WebhookSettings, parse_settings
from channels.webhook.wire import receipts_from, verified_ack

MAX_MESSAGE_CHARS = 500
PLACEMENT_KEYS = ("audience", "endpoint", "message", "name")
REACHED = ("sent", "delivered")


class WebhookChannel(ChannelBase[WebhookSettings]):
    """Notices inside partner apps, one POST per person, rate-limited per endpoint.

    Its limits are the sum of the endpoints' rates (see ``WebhookSettings.rate``); each
    send also waits for its endpoint's own."""

    name: ClassVar[str] = "webhook"
    capabilities: ClassVar[Capabilities] = Capabilities(person_addressed=True,
                                                        waits_for_send_window=True)
    unconfigured: ClassVar[str] = ("sending to partner apps needs a [channels.webhook] "
                                   "table with endpoints")

    def __init__(self, settings: WebhookSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``settings`` None: unconfigured, able to validate and plan but not to send."""
        self.settings = settings
        self.clock = clock
        self._client = Once(lambda: PartnerClient(self.configured(), self.clock))

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Self:
        return cls(parse_settings(table))

    # Validation and planning -------------------------------------------------------------

    def validate(self, options: Mapping[str, Any], context: ValidationContext) -> list[Problem]:
        problems = unknown_keys(options, PLACEMENT_KEYS)
        problems += parse_audience(options.get("audience"), context)[1]
        checks: dict[str, Callable[[Any], str | None]] = {
            "endpoint": self._endpoint_problem, "message": _message_problem,
            "name": name_problem}
        for key, check in checks.items():
            message = check(options.get(key))
            if message:
                problems.append(Problem((key,), message))
        return problems

    def _endpoint_problem(self, value: Any) -> str | None:
        known = sorted(self.settings.endpoints) if self.settings else None
        listed = f"; configured endpoints: {', '.join(known)}" if known else ""
        if value is None:
            return ('is required: the partner app to send through, such as '
                    f'endpoint = "parcel"{listed}')
        if not isinstance(value, str) or not value.strip():
            return f"must be the name of a [channels.webhook] endpoint, {got(value)}{listed}"
        if known is not None and value not in known:
            return f'unknown endpoint "{value}"{listed}'
        return None

    def targets(self, placement: Placement, inventory: Inventory) -> Iterator[Target]:
        for contact in inventory.contacts(planned_audience(placement), self.name):
            yield Target(sort_key=contact.id, address=contact.phone, contact_id=contact.id,
                         skip_reason="opted_out" if contact.opted_out else None,
                         copies=contact.memberships)

    def describe(self, placement: Placement, inventory: Inventory) -> PlacementContent:
        """The partner endpoint (its URL once configured), the notice's words and the
        audience (the ContentDescriber protocol)."""
        options = placement.options
        name, message = str(options["endpoint"]), str(options["message"])
        facts = [ContentFact("endpoint", name)]
        endpoint = self.settings.endpoints.get(name) if self.settings else None
        if endpoint is not None:
            facts.append(ContentFact("endpoint_url", endpoint.url))
        facts += [ContentFact("text", message), ContentFact("characters", len(message))]
        audience = parse_audience(options.get("audience"), ValidationContext())[0]
        return PlacementContent(tuple(facts), audience)

    # Sending (the Sender protocol) ---------------------------------------------------------

    def send(self, message: Message) -> SendResult:
        client, settings = self.client(), self.configured()
        name = str(message.placement.options.get("endpoint", ""))
        endpoint = settings.endpoints.get(name)
        if endpoint is None:  # planned before the endpoint left the config
            return SendResult(message.delivery_id, "failed", code="endpoint",
                              detail=f'no endpoint "{name}" in [channels.webhook]')
        return client.post(endpoint, message)

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        """Never found: the partner dedupes by id, so sending again is the safe answer."""
        return LookupResult(found=False)

    def client(self) -> PartnerClient:
        """The channel's one HTTP client, built on first use (thread-safe)."""
        return self._client.get()

    # Acknowledgements ------------------------------------------------------------------------

    def parse_callback(self, request: CallbackRequest) -> list[Receipt]:
        if self.settings is None:
            raise SignatureError("the webhook channel is not configured: no secret to check with")
        client = self.client()
        secrets = {name: client.secret(e) for name, e in self.settings.endpoints.items()}
        ack, signer = verified_ack(secrets, request, self.clock())
        return receipts_from(ack, signer)

    def placement_account(self, placement: Placement) -> str | None:
        """Each endpoint signs with its own secret: its acknowledgements move its rows only."""
        return str(placement.options.get("endpoint", ""))

    def parse_inbound(self, request: CallbackRequest) -> InboundMessage:
        raise SignatureError("partner apps send no replies")

    def reach(self, placement: Placement, states: Mapping[str, int],
              reports: Mapping[str, int]) -> dict[str, ReachFigure]:
        messages = rows_in(states, REACHED)
        return {"message_times": ReachFigure(messages, "computed", "rows sent or delivered "
                                             "(gross: one per notice, not per person)")}


def _message_problem(value: Any) -> str | None:
    return text_problem(value, 'the notice text, such as message = "Report crime: call 110"',
                        MAX_MESSAGE_CHARS)


if TYPE_CHECKING:  # mypy checks that the plugin has each protocol it claims
    _channel: type[Channel] = WebhookChannel
    _sender: type[Sender] = WebhookChannel
    _receiver: type[CallbackReceiver] = WebhookChannel
    _describer: type[ContentDescriber] = WebhookChannel
