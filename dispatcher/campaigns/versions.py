"""Stored versions of campaign files, read back: the campaign a version holds.

Every package that needs a stored campaign reads it here (approval, planning, delivery,
reach), so reading one needs nothing above the campaigns package; storing a version and
the other campaign actions are in :mod:`dispatcher.planning.campaign_store`.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, select

from dispatcher.campaigns.model import Campaign
from dispatcher.errors import NotFoundError
from dispatcher.storage.tables import campaign_versions, campaigns


def load_stored(engine: Engine, campaign_id: str,
                version: int | None = None) -> tuple[Campaign, int]:
    """The stored campaign at ``version`` (default: the current one) and that version."""
    with engine.connect() as conn:
        campaign = load_stored_in(conn, campaign_id, version)
        wanted = version or conn.execute(select(campaigns.c.current_version).where(
            campaigns.c.id == campaign_id)).scalar_one()
    return campaign, wanted


def load_stored_in(conn: Connection, campaign_id: str, version: int | None = None) -> Campaign:
    """:func:`load_stored` inside an open connection."""
    current = conn.execute(select(campaigns.c.current_version)
                           .where(campaigns.c.id == campaign_id)).scalar()
    if current is None:
        raise NotFoundError(f"no campaign {campaign_id!r}; see `dispatcher campaign list`")
    wanted = version or current
    definition = conn.execute(
        select(campaign_versions.c.definition)
        .where(campaign_versions.c.campaign_id == campaign_id,
               campaign_versions.c.version == wanted)).scalar()
    if definition is None:
        raise NotFoundError(f"campaign {campaign_id!r} has no version {wanted} "
                            f"(versions 1 to {current})")
    return Campaign.from_json(json.loads(definition))
