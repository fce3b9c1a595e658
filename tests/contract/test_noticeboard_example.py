"""The example plugin's own tests (examples/noticeboard/test_noticeboard_channel.py), run
with this suite so the example a plugin author copies cannot rot unnoticed."""

from test_noticeboard_channel import *  # noqa: F403 (pytest collects the tests imported)
