"""Seeded faults of a fleet: which screens go offline and when, which batches replay.

Every draw is a ``random.Random`` seeded with a string naming what it decides, so a seed
gives the same offline screens, moments and replayed batch numbers however the worker
threads interleave. Offline moments are real seconds after the clock started.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from dispatcher.sandbox.led.options import LedOptions


class OfflinePlan:
    """Each chosen screen is offline once, for ``offline_s``, from a seeded moment."""

    def __init__(self, screen_ids: Iterable[str], options: LedOptions) -> None:
        ids = sorted(screen_ids)
        count = round(options.offline_rate * len(ids))
        if options.offline_rate > 0:
            count = max(1, count)
        chosen = random.Random(f"{options.seed}:offline").sample(ids, min(count, len(ids)))
        self.duration = options.offline_s
        self.moments = {
            screen: random.Random(f"{options.seed}:offline:{screen}").uniform(
                0, options.offline_within_s)
            for screen in chosen}

    def offline(self, screen: str, elapsed: float) -> bool:
        """Whether ``screen`` is offline ``elapsed`` real seconds after the start."""
        moment = self.moments.get(screen)
        return moment is not None and moment <= elapsed < moment + self.duration

    def periods(self, elapsed: float) -> int:
        """Offline periods begun by then."""
        return sum(1 for moment in self.moments.values() if moment <= elapsed)

    def offline_now(self, elapsed: float) -> int:
        return sum(1 for screen in self.moments if self.offline(screen, elapsed))


def replays(seed: int, screen: str, batch_number: int, rate: float) -> bool:
    """Whether the ``batch_number``-th batch of ``screen`` is posted a second time."""
    return rate > 0 and random.Random(f"{seed}:replay:{screen}:{batch_number}").random() < rate


def stagger(seed: int, screen: str, what: str) -> float:
    """A seeded fraction in [0, 1) that spreads the screens' first jobs over an interval."""
    return random.Random(f"{seed}:{what}:{screen}").random()
