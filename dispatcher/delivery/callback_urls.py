"""The URLs providers and venues call, shared by the web app (its routes) and the engine
(the callback URL each message carries).

It lives with delivery, not with the web app, because the engine needs it and the engine
never imports the web app (an import-linter contract in pyproject.toml).
"""

from __future__ import annotations

from channels.delivery_ids import DELIVERY_PARAM

HOOKS_PREFIX = "/hooks"
STATUS_PATH = "/{channel}/status"  # under HOOKS_PREFIX
INBOUND_PATH = "/{channel}/inbound"
EVENTS_PATH = "/{channel}/events"  # one URL for all of a provider's pushes (WeChat)
# Unsigned pushes (Aliyun, Tencent SMS): the account's secret token is part of the path.
PUSH_PATH = "/{channel}/push/{account}/{kind}/{token}"
FEED_PATH = "/feeds/{channel}/{screen}"  # a screen's playlist
POP_PATH = HOOKS_PREFIX + "/{channel}/pop"  # proof of play from screens
PLAYLOG_PATH = HOOKS_PREFIX + "/{channel}/playlog"  # play logs from cinemas
HEALTH_PATH = "/healthz"


def _base(public_url: str) -> str:
    return public_url.rstrip("/")


def _hook(public_url: str, channel: str, what: str) -> str:
    """``{public_url}/hooks/{channel}/{what}``."""
    return f"{_base(public_url)}{HOOKS_PREFIX}/{channel}/{what}"


def status_url(public_url: str, channel: str) -> str:
    """Where ``channel``'s provider posts delivery receipts, without the delivery id."""
    return _hook(public_url, channel, "status")


def status_callback_url(public_url: str, channel: str, delivery_id: int) -> str:
    """The receipt URL for one delivery row: ``{public_url}/hooks/sms/status?d=123``."""
    return f"{status_url(public_url, channel)}?{DELIVERY_PARAM}={delivery_id}"


def inbound_url(public_url: str, channel: str) -> str:
    """Where ``channel``'s provider posts replies (Twilio: the number's messaging webhook)."""
    return _hook(public_url, channel, "inbound")


def push_url(public_url: str, channel: str, account: str, kind: str, token: str) -> str:
    """Where an account's platform pushes receipts (``kind`` report) or replies (reply):
    ``{public_url}/hooks/sms/push/default/report/<token>``, registered in its console."""
    return _hook(public_url, channel, f"push/{account}/{kind}/{token}")


def health_url(public_url: str) -> str:
    return f"{_base(public_url)}{HEALTH_PATH}"


def events_url(public_url: str, channel: str) -> str:
    """Where a provider that pushes signed events posts them (WeChat's server URL)."""
    return _hook(public_url, channel, "events")


def feed_url(public_url: str, channel: str, screen_id: str) -> str:
    return f"{_base(public_url)}/feeds/{channel}/{screen_id}"


def pop_url(public_url: str, channel: str) -> str:
    return _hook(public_url, channel, "pop")


def playlog_url(public_url: str, channel: str) -> str:
    return _hook(public_url, channel, "playlog")
