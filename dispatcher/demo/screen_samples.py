"""A sample screen registry like the drive's: 500+ building guide screens, 20+ outdoor
and 10+ facade screens, across the sample districts (for the demo and tests)."""

from __future__ import annotations

import csv
import os
import random

from dispatcher.demo.contact_samples import DISTRICTS

# (kind, how many of the default 530, resolution, audience per play, how it was estimated,
# as the office's registry states it)
FLEET = (
    ("building", 500, "1080x1920", 12, "2019年楼宇大堂客流抽样调查（每次播放）"),
    ("outdoor", 20, "1920x1080", 150, "点位行人流量计数 × 停留观看比例"),
    ("facade", 10, "3840x1080", 600, "交管部门车流量计数 × 每车1.3人"),
)
# What the office calls each kind of screen (the registry's names are people's words).
KIND_NAMES = {"building": "楼宇导视屏", "outdoor": "户外大屏", "facade": "楼体外墙屏"}
AREAS = {"building": ("work", "residential"), "outdoor": ("street", "activity"),
         "facade": ("street",)}
COLUMNS = ("id", "name", "kind", "district", "area", "resolution", "timezone",
           "audience_per_play", "audience_source", "controller", "endpoint", "tags",
           "formats")


def sample_screens(scale: float = 1.0, seed: int = 0,
                   push_endpoint: str | None = None) -> list[dict[str, str]]:
    """The rows of a sample registry; with ``push_endpoint`` (a format string with
    ``{id}``) every tenth screen takes pushes there, the others pull their feeds."""
    rng = random.Random(seed)
    rows = []
    for kind, count, resolution, audience, source in FLEET:
        for n in range(1, max(1, round(count * scale)) + 1):
            screen_id = f"{kind[0].upper()}-{n:03d}"
            push = push_endpoint is not None and n % 10 == 0
            district = rng.choice(DISTRICTS)[0]
            rows.append({
                "id": screen_id, "name": f"{district}{KIND_NAMES[kind]}{n:03d}号",
                "kind": kind, "district": district, "area": rng.choice(AREAS[kind]),
                "resolution": resolution, "timezone": "Asia/Shanghai",
                "audience_per_play": str(audience), "audience_source": source,
                "controller": "push" if push else "pull",
                "endpoint": push_endpoint.format(id=screen_id) if push and push_endpoint
                else "", "tags": "lobby" if kind == "building" else "street",
                "formats": "jpg;png;mp4;text"})
    return rows


def write_screens_csv(path: str | os.PathLike[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
