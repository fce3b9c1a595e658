"""A 429 with Retry-After seen by one worker pauses every worker (limits shared in Redis).

Two engines, each with its own Redis client (as two worker processes have), send two
blocks of one run at the same time through the Twilio sandbox, which answers the 100th
create with 429 and ``Retry-After: 1``. Only the engine that got the 429 learns of it;
the other must stop too, so the sandbox sees no create for about a second right after
the 100th, while both engines still have rows to send.
"""

from __future__ import annotations

import itertools
import threading
import tomllib
from collections.abc import Iterator

import pytest

from dispatcher import registry
from dispatcher.claims import Scope
from dispatcher.config import parse_config
from dispatcher.engine import DeliveryEngine
from dispatcher.policy import EngineOptions
from dispatcher.sandbox import SANDBOX_AUTH_TOKEN, TwilioOptions, TwilioSandbox
from dispatcher.shared_limits import RedisLimiters
from dispatcher.testing import sandbox_config_text
from tests.dispatcher.test_celery_workers import TOKEN_VARIABLE, plan_sms

pytestmark = [pytest.mark.postgres, pytest.mark.services]

CONTACTS = 400
THROTTLED_CREATE = 100  # the sandbox answers this create (counting from 0) with 429


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
    gaps = [(later - earlier, n) for n, (earlier, later)
            in enumerate(itertools.pairwise(created))]
    silences = [(n, round(gap, 2)) for gap, n in gaps if gap >= 0.9]
    # The creates in flight when the first 429 came back still land; then nobody sends
    # (the sandbox throttles every 100th create, so later pauses follow).
    assert silences, f"no silence of 0.9 s; the longest was {max(gaps)}"
    after = silences[0][0]
    assert THROTTLED_CREATE - 5 <= after <= THROTTLED_CREATE + 40, silences
    db.dispose()
