"""Previews: a campaign's placement sent to named test users before approval or sending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy import Engine

from channels.base import Channel, ChannelError, Placement
from dispatcher.approval import lifecycle
from dispatcher.campaigns.versions import load_stored
from dispatcher.errors import DispatcherError


@runtime_checkable
class Previewer(Protocol):
    """A channel that can send one placement to named test users before the real send."""

    def preview(self, placement: Placement, to: str) -> str:
        """Send the preview to ``to``; the provider's reference, or ChannelError."""
        ...


@dataclass(frozen=True)
class PreviewSent:
    placement: int
    to: str
    provider_ref: str


def send_previews(engine: Engine, campaign_id: str, channel_name: str, channel: Channel,
                  to: list[str], actor: str, placement: int | None = None) -> list[PreviewSent]:
    """Preview the current version's placements on ``channel_name`` (or the one numbered
    ``placement``) to each of ``to``; each preview goes to the audit log."""
    if not isinstance(channel, Previewer):
        raise DispatcherError(f"channel {channel_name!r} cannot send previews")
    campaign, version = load_stored(engine, campaign_id)
    chosen = [p for p in campaign.placements if p.channel == channel_name
              and (placement is None or p.index == placement)]
    if not chosen:
        which = f"placement {placement} on " if placement is not None else "placement on "
        raise DispatcherError(f"campaign {campaign_id!r} version {version} has no {which}"
                              f"channel {channel_name!r}")
    sent = []
    for item in chosen:
        for person in to:
            try:
                ref = channel.preview(item, person)
            except ChannelError as exc:
                raise DispatcherError(f"placement {item.index} to {person}: {exc}") from None
            sent.append(PreviewSent(item.index, person, ref))
            with engine.begin() as conn:
                lifecycle.record(conn, actor, "preview", campaign_id, version,
                                 f"placement {item.index} on {channel_name} to {person}: "
                                 f"provider ref {ref or '-'}")
    return sent


if TYPE_CHECKING:  # mypy checks that the plugin still has what the core calls
    from channels.wechat import WeChatChannel

    _previewer: type[Previewer] = WeChatChannel
