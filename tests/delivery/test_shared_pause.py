"""A 429 with Retry-After seen by one worker pauses every worker (limits shared in Redis).

Two engines, each with its own Redis client (as two worker processes have), send two
blocks of one run at the same time through the Twilio sandbox, which answers the 100th
create with 429 and ``Retry-After: 1``. Only the engine that got the 429 learns of it;
the other must stop too: after the 429 the sandbox sees only the creates already in
flight (at most both engines' concurrency) until the second has passed, while both
engines still have rows to send. The window is measured from the 429 itself, not from
gaps between creates, so a slow machine stretching the in-flight creates does not
hide the pause.
"""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Iterator, Mapping

import pytest

from dispatcher import registry
from dispatcher.config import parse_config
from dispatcher.delivery.claims import Scope
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.delivery.shared_limits import RedisLimiters
from dispatcher.sandbox import SANDBOX_AUTH_TOKEN, TwilioOptions, TwilioSandbox
from dispatcher.sandbox.twilio.wire import Outcome
from dispatcher.testing import sandbox_config_text
from tests.e2e.test_celery_workers import TOKEN_VARIABLE, plan_sms

pytestmark = [pytest.mark.postgres, pytest.mark.services]

CONTACTS = 400
THROTTLED_CREATE = 100  # the sandbox answers this create (counting from 0) with 429
CONCURRENCY = 16  # per engine, from sandbox_config_text
PAUSE = 1.0  # the sandbox's Retry-After


def record_throttles(box: TwilioSandbox) -> list[float]:
    """Wrap the sandbox's create so the times of its 429 answers are kept, in order."""
    times: list[float] = []
    answer = box.create

    def create(form: Mapping[str, str]) -> Outcome:
        outcome = answer(form)
        if outcome.status == 429:
            times.append(time.time())
        return outcome

    box.create = create  # type: ignore[method-assign]
    return times


@pytest.fixture
def sandbox() -> Iterator[tuple[TwilioSandbox, str]]:
    box = TwilioSandbox(TwilioOptions(seed=3, latency_ms=5, throttle_every=THROTTLED_CREATE,
                                      throttle_burst=1))
    with box.serve() as url:
        yield box, url


def test_one_workers_retry_after_pauses_the_other(
        postgres_url: str, redis_url: str, sandbox: tuple[TwilioSandbox, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    box, api_url = sandbox
    throttles = record_throttles(box)
    monkeypatch.setenv(TOKEN_VARIABLE, SANDBOX_AUTH_TOKEN)
    config = parse_config(tomllib.loads(sandbox_config_text(
        postgres_url, api_url, "http://127.0.0.1:9", status_callback=False,
        token_variable=TOKEN_VARIABLE, rate=1000)))
    db = plan_sms(postgres_url, CONTACTS)
    with db.connect() as conn:
        run_id, first = conn.exec_driver_sql("SELECT run_id, min(id) FROM deliveries "
                                             "GROUP BY run_id").one()
    half = CONTACTS // 2
    scopes = [Scope(run_id, "sms", first, first + half - 1),
              Scope(run_id, "sms", first + half, first + CONTACTS - 1)]
    options = EngineOptions(backoff_base=0.05, backoff_max=0.2, idle_horizon_seconds=5)
    engines = [DeliveryEngine(db, registry.build_channels(config.channels),
                              config.web.public_url, options, RedisLimiters(redis_url),
                              scope=scope) for scope in scopes]
    threads = [threading.Thread(target=e.run, kwargs={"until_idle": True}) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    stats = box.stats()
    assert stats["faults"]["throttle"] >= 1 and stats["created"] == CONTACTS, stats
    created = sorted(m.created.timestamp() for m in box.store.all(None))
    first_429 = throttles[0]
    after = [t for t in created if t > first_429]
    during = [t for t in after if t < first_429 + PAUSE * 0.9]
    # Without the shared pause the other engine goes on at full speed: a hundred or more
    # creates in that window. With it, only those already in flight land.
    offsets = ' '.join(f'{t - first_429:.3f}' for t in after[:80])
    assert len(during) <= 2 * CONCURRENCY, f'{len(during)} creates: {offsets}'
    assert len(after) > len(during), "nothing was sent after the pause"
    db.dispose()
