"""The URLs providers and venues are told to call (dispatcher.delivery.callback_urls)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dispatcher.delivery import callback_urls as urls

HOOKS: list[tuple[Callable[[str, str], str], str, str]] = [
    (urls.status_url, "sms", "https://x.org/hooks/sms/status"),
    (urls.inbound_url, "sms", "https://x.org/hooks/sms/inbound"),
    (urls.events_url, "wechat", "https://x.org/hooks/wechat/events"),
    (urls.pop_url, "led", "https://x.org/hooks/led/pop"),
    (urls.playlog_url, "cinema", "https://x.org/hooks/cinema/playlog"),
]


@pytest.mark.parametrize(("url", "channel", "expected"), HOOKS,
                         ids=[expected.rsplit("/", 1)[1] for _, _, expected in HOOKS])
def test_each_hook_is_under_hooks_whatever_the_public_url_ends_with(
        url: Callable[[str, str], str], channel: str, expected: str) -> None:
    assert url("https://x.org/", channel) == url("https://x.org", channel) == expected


def test_feeds_and_health_are_outside_hooks() -> None:
    assert urls.feed_url("https://x.org/", "led", "B-001") == "https://x.org/feeds/led/B-001"
    assert urls.health_url("https://x.org/") == "https://x.org/healthz"
