"""channels.once: a provider client is built at its first use only, and once."""

from __future__ import annotations

import threading
import time

from channels.once import Once


def test_nothing_is_built_before_the_first_use() -> None:
    built: list[int] = []
    Once(lambda: built.append(1))
    assert built == []


def test_threads_asking_at_once_share_one_build() -> None:
    calls: list[int] = []

    def build() -> object:
        calls.append(1)
        time.sleep(0.05)  # long enough for every thread to ask while it builds
        return object()

    once = Once(build)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(once.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(got) == 8 and all(value is got[0] for value in got)
