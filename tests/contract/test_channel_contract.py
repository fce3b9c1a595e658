"""The channel contract, checked on every installed channel and on the example plugin.

Each channel gets ``dispatcher.testing.check_channel`` (what a third-party author runs in
their own tests) with a valid placement from the drive's campaign file and its table from
the documented config.toml; the tests below it check what only this repository promises
about its own channels.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from noticeboard_channel import NoticeboardChannel

from channels.base import ConfigError, Placement, Sender, ValidationContext
from dispatcher import registry
from dispatcher.config import parse_config
from dispatcher.i18n.labels import KINDS
from dispatcher.testing import check_channel, sample_inventory

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = ("cinema", "led", "sms", "webhook", "wechat")
EXAMPLE_OPTIONS = {"boards": ["market", "east-gate"], "text": "Report gang crime: call 110."}
EXAMPLE_TABLE = {"viewers_per_day": 250}


def drive_options() -> dict[str, dict[str, Any]]:
    """Each channel's placement in campaigns/pingan-ding.toml, without ``channel``."""
    with (ROOT / "campaigns" / "pingan-ding.toml").open("rb") as file:
        campaign = tomllib.load(file)
    return {p["channel"]: {k: v for k, v in p.items() if k != "channel"}
            for p in campaign["placements"]}


def config_tables() -> dict[str, dict[str, Any]]:
    """Each channel's table in config.toml, as the core hands it (secrets as Secret)."""
    with (ROOT / "config.toml").open("rb") as file:
        return parse_config(tomllib.load(file)).channels


OPTIONS = drive_options()


@pytest.fixture(autouse=True)
def account_sid(monkeypatch: pytest.MonkeyPatch) -> None:
    """config.toml reads the Twilio account SID from the environment (its rate limit key)."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000")


def test_the_five_channels_are_installed_and_each_has_a_sample() -> None:
    assert tuple(registry.installed()) == BUILT_IN
    assert sorted(OPTIONS) == list(BUILT_IN)
    assert "noticeboard" not in registry.installed()  # an example, not one of ours


@pytest.mark.parametrize("name", registry.installed())
def test_each_channel_keeps_the_contract(name: str) -> None:
    check_channel(registry.channel_class(name), OPTIONS[name],
                  table=config_tables()[name])


def test_the_example_plugin_keeps_the_contract() -> None:
    check_channel(NoticeboardChannel, EXAMPLE_OPTIONS, table=EXAMPLE_TABLE)


@pytest.mark.parametrize("name", registry.installed())
def test_names_and_reach_metrics_have_words_for_people(name: str) -> None:
    """labels.py holds the words of the built-in channels' machine names (a third-party
    plugin's names are shown as they are)."""
    channel = registry.build_channel(name, {})
    metrics = channel.reach(Placement(0, name, OPTIONS[name]), {}, {})
    assert ("channel", name) in KINDS["channel"]
    assert {("metric", metric) for metric in metrics} <= set(KINDS["metric"])


@pytest.mark.parametrize("name", registry.installed())
def test_an_unconfigured_sender_names_its_missing_table(name: str) -> None:
    channel = registry.build_channel(name, {})
    assert isinstance(channel, Sender)
    with pytest.raises(ConfigError) as raised:
        channel.limits()
    assert raised.value.key == f"channels.{name}"
    assert "is not configured" in raised.value.message


@pytest.mark.parametrize("name", ["sms", "wechat", "webhook", "led", "cinema"])
def test_a_label_that_is_not_a_string_is_a_problem(name: str) -> None:
    channel = registry.build_channel(name, {})
    found = channel.validate({**OPTIONS[name], "name": 12345}, ValidationContext())
    assert [problem.path for problem in found] == [("name",)]


@pytest.mark.parametrize("name", ["led", "cinema"])
def test_targets_ascend_whatever_the_length_of_venue_ids(name: str) -> None:
    inventory = sample_inventory()
    lobby = inventory.registry[0]
    inventory.registry = (lobby._replace(id="B-9"), lobby._replace(id="B-10"))
    inventory.schedule = tuple(screening._replace(id=f"C01-{n}")
                               for n, screening in zip((9, 10, 11), inventory.schedule,
                                                       strict=True))
    check_channel(registry.channel_class(name), OPTIONS[name], inventory=inventory)
