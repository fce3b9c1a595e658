"""Partner apps by signed JSON webhooks."""

from channels.webhook.channel import WebhookChannel

__all__ = ["WebhookChannel"]
