"""One controller's unreported plays and the PoP batches made of them
(:mod:`dispatcher.sandbox.batches`): ``{"screen", "batch", "records": [...]}``."""

from __future__ import annotations

from dispatcher.sandbox.batches import BatchFormat, BatchQueue
from dispatcher.sandbox.clock import iso_z

Play = tuple[int, str, int]  # (start µs, item id, duration µs), simulated UTC
PopQueue = BatchQueue[Play]

# What the controller counts for each event of :func:`dispatcher.sandbox.batches.flush`.
TALLY_NAMES = {"reported": "records.reported", "posted": "batches.posted",
               "failed": "batches.failed", "acknowledged": "batches.acknowledged",
               "entries_acknowledged": "records.acknowledged", "replayed": "batches.replayed"}


def _record(play: Play) -> dict[str, object]:
    start, item, duration = play
    return {"item": item, "start": iso_z(start), "end": iso_z(start + duration), "count": 1}


POP_FORMAT = BatchFormat[Play]("screen", "records", _record)


def pop_queue(screen: str, run_token: str) -> PopQueue:
    """Buffered plays, batches awaiting acknowledgement, batches to replay."""
    return BatchQueue(screen, run_token, POP_FORMAT)
