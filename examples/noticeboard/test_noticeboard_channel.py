"""The example plugin's own tests, as a plugin author writes them: the channel contract
(``check_channel``), then what is particular to this channel."""

from __future__ import annotations

from typing import Any

import pytest
from noticeboard_channel import NoticeboardChannel

from channels.base import ConfigError, Message, Placement, ValidationContext
from dispatcher.testing import check_channel, sample_inventory

OPTIONS: dict[str, Any] = {"boards": ["market", "east-gate"], "text": "Report crime: call 110."}
TABLE: dict[str, Any] = {"viewers_per_day": 250, "rate": 2}


def test_keeps_the_channel_contract() -> None:
    check_channel(NoticeboardChannel, OPTIONS, table=TABLE)


def test_a_board_name_with_spaces_is_a_problem_at_its_index() -> None:
    found = NoticeboardChannel().validate({**OPTIONS, "boards": ["market", "East Gate"]},
                                          ValidationContext())
    assert [problem.path for problem in found] == [("boards", 1)]


def test_a_bad_setting_names_its_key() -> None:
    with pytest.raises(ConfigError, match=r"channels\.noticeboard\.rate"):
        NoticeboardChannel.from_config({"rate": 0})


def test_targets_are_the_boards_and_reach_counts_their_viewers() -> None:
    channel = NoticeboardChannel.from_config(TABLE)
    placement = Placement(2, "noticeboard", OPTIONS)
    rows = [target.address for target in channel.targets(placement, sample_inventory())]
    assert rows == ["board:east-gate@2", "board:market@2"]
    result = channel.send(Message(7, rows[0], placement, attempt=1))
    assert (result.outcome, channel.pinned[7]) == ("accepted", (rows[0], OPTIONS["text"]))
    reach = channel.reach(placement, {"sent": 2, "failed": 1}, {})
    assert (reach["boards"].value, reach["viewers"].value) == (2, 500)
