from __future__ import annotations

from dispatcher.campaigns.toml_lines import key_lines, line_of

DOC = '''id = "x"  # comment with = sign
[schedule]
start = 2019-06-01T09:00:00
note = """
fake = 1
[fake]
"""
[[placements]]
channel = "sms"
audience = { lists = ["a"], areas = ["x"] }
[[placements]]
channel = "sms"
  [placements.audience]
  lists = [
    "a",  # first
    "b", "c",
  ]
"quoted key" = 1
a.b = 2
'''


def test_tables_keys_and_array_elements() -> None:
    lines = key_lines(DOC)
    assert lines[("id",)] == 1
    assert lines[("schedule", "start")] == 3
    assert ("fake",) not in lines and ("schedule", "fake") not in lines
    assert lines[("placements", 0)] == 8
    assert lines[("placements", 0, "audience", "areas")] == 10
    assert lines[("placements", 1, "channel")] == 12
    assert lines[("placements", 1, "audience", "lists")] == 14
    assert lines[("placements", 1, "audience", "lists", 0)] == 15
    assert lines[("placements", 1, "audience", "lists", 1)] == 16
    assert lines[("placements", 1, "audience", "lists", 2)] == 16
    assert lines[("placements", 1, "audience", "quoted key")] == 18
    assert lines[("placements", 1, "audience", "a", "b")] == 19


def test_line_of_falls_back_to_the_nearest_known_parent() -> None:
    lines = key_lines(DOC)
    assert line_of(lines, ("placements", 0, "audience", "lists", 0)) == 10
    assert line_of(lines, ("placements", 1, "body")) == 11
    assert line_of(lines, ("missing",)) == 1
