"""Previews: a campaign's placement sent to named test users before approval or sending."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from channels.base import Channel, ChannelError, Previewer
from dispatcher.campaigns import store as campaign_store
from dispatcher.errors import DispatcherError
from dispatcher.review import lifecycle


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
    campaign, version = campaign_store.load_stored(engine, campaign_id)
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
