"""Helpers for tests of the dispatcher and of third-party channel plugins, shipped with
the package (as ``structlog.testing`` is) so a plugin's own tests can use them.

- :mod:`~dispatcher.testing.campaigns`: campaign files from their placements
  (:func:`campaign_text`), stored, approved and planned exactly as the CLI does.
- :mod:`~dispatcher.testing.inventory`: a small in-memory inventory to plan from.
- :mod:`~dispatcher.testing.channel_contract`: :func:`check_channel`, the channel
  contract checked (docs/writing-a-channel.md).
"""

from dispatcher.testing.campaigns import (
    DRIVE_START,
    FIRE_TIME,
    LOCAL_START,
    SHANGHAI,
    campaign_text,
    delivery_ids,
    fail_first,
    plan_campaign,
    plan_stored,
    sandbox_config_text,
    sms_campaign_text,
    sms_placement,
    store_campaign,
    toml_text,
    unconfigured_channel,
)
from dispatcher.testing.channel_contract import check_channel, protocols
from dispatcher.testing.inventory import (
    SAMPLE_LISTS,
    SampleInventory,
    inventory_context,
    sample_inventory,
)

__all__ = [
    "DRIVE_START", "FIRE_TIME", "LOCAL_START", "SAMPLE_LISTS", "SHANGHAI", "SampleInventory",
    "campaign_text", "check_channel", "delivery_ids", "fail_first", "inventory_context",
    "plan_campaign", "plan_stored", "protocols", "sample_inventory", "sandbox_config_text",
    "sms_campaign_text", "sms_placement", "store_campaign", "toml_text",
    "unconfigured_channel",
]
