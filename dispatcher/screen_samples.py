"""A sample screen registry like the drive's: 500+ building guide screens, 20+ outdoor
and 10+ facade screens, across the sample districts (for the demo and tests)."""

from __future__ import annotations

import csv
import os
import random

from dispatcher.samples import DISTRICTS

# (kind, how many of the default 530, resolution, audience per play, how it was estimated)
FLEET = (
    ("building", 500, "1080x1920", 12, "lobby footfall counts, 2019 survey (per play)"),
    ("outdoor", 20, "1920x1080", 150, "pedestrian counts at the site x dwell share"),
    ("facade", 10, "3840x1080", 600, "traffic authority vehicle counts x 1.3 occupants"),
)
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
            rows.append({
                "id": screen_id, "name": f"{kind} screen {n}", "kind": kind,
                "district": rng.choice(DISTRICTS)[0], "area": rng.choice(AREAS[kind]),
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
