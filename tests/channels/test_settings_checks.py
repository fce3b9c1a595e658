"""The checks the channels' ``[channels.NAME]`` tables share (channels.settings_checks)."""

from __future__ import annotations

from typing import Any

import pytest

from channels.base import ConfigError
from channels.cinema import CinemaChannel
from channels.led import LedChannel
from channels.settings_checks import failing, known_keys, secret

CINEMA = {"systems": {"cms": "http://127.0.0.1:8768"}}


class Reference:
    """A credential as the config gives it: revealed only when asked."""

    def reveal(self) -> str:
        return "s3cret"


def test_a_failure_names_the_table_and_the_key() -> None:
    with pytest.raises(ConfigError) as raised:
        failing("channels.demo")("rate", "must be a number")
    assert (raised.value.key, raised.value.message) == ("channels.demo.rate", "must be a number")


def test_an_unknown_key_is_refused_with_the_keys_allowed() -> None:
    known_keys({"rate": 1}, ("concurrency", "rate"), failing("channels.demo"))
    with pytest.raises(ConfigError, match=r"^channels\.demo\.rat: unknown key; allowed: "
                                          r"concurrency, rate$"):
        known_keys({"rat": 1}, ("concurrency", "rate"), failing("channels.demo"))


def test_a_secret_is_a_reference_never_the_value() -> None:
    reference = Reference()
    assert secret(reference, "token", failing("channels.demo"), "write ...") is reference
    with pytest.raises(ConfigError, match=r"^channels\.demo\.token: write \.\.\.$"):
        secret("s3cret", "token", failing("channels.demo"), "write ...")


@pytest.mark.parametrize(("channel", "table", "variable"), [
    (CinemaChannel, CINEMA, "CINEMA_TOKEN_SECRET"), (LedChannel, {}, "LED_TOKEN_SECRET")])
def test_venue_channels_need_their_token_secret_as_a_reference(
        channel: Any, table: dict[str, Any], variable: str) -> None:
    for wrong in ({}, {"token_secret": "s3cret"}):
        with pytest.raises(ConfigError) as raised:
            channel.from_config({**table, **wrong})
        assert raised.value.key == f"channels.{channel.name}.token_secret"
        assert f'token_secret = "env:{variable}"' in raised.value.message
    assert channel.from_config({**table, "token_secret": Reference()}).ready()
