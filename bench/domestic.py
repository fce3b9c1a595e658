"""bench/send.py's domestic providers: the engine with batch calls beside a bare thread
pool over the same official SDK with one number per call, against the Aliyun or Tencent
sandbox in its own process with 20 ms latency per API call."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import requests
from common import wait_up

from channels.sms.aliyun_client import AliyunAccount
from channels.sms.domestic import national
from channels.sms.settings import AliyunSettings, TencentSettings
from channels.sms.tencent_client import TencentAccount
from dispatcher import registry
from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import parse_config
from dispatcher.context import AppContext
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.demo import contact_samples as samples
from dispatcher.demo import domestic_sms
from dispatcher.planning import campaign_store
from dispatcher.planning.runs import plan_firing
from dispatcher.serving import free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def sandbox(provider: str) -> Iterator[str]:
    """The platform's sandbox in a child process; its URL."""
    port = free_port()
    env = {**os.environ, **domestic_sms.environment(provider)}
    secret = domestic_sms.SECRET_VARIABLES[provider]
    child = subprocess.Popen(
        [sys.executable, "-m", "dispatcher", "sandbox", provider, "--port", str(port),
         "--latency-ms", "20", "--secret-env", secret], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}"
    try:
        wait_up(api)
        yield api
    finally:
        child.terminate()
        child.wait()


def engine_send(provider: str, api: str, n: int, threads: int) -> Callable[[], int]:
    """The drive's SMS as the platform's template, planned for ``n`` contacts; the engine's
    run that sends it in batch calls (the platform's largest batch), to be measured."""
    workdir = Path(tempfile.mkdtemp())
    os.environ.update(domestic_sms.environment(provider))
    table = domestic_sms.sms_table(provider, api, rate=100_000, timeout=10)
    table["concurrency"] = threads
    config = parse_config({"channels": {"sms": table}})
    config = config.__class__(**{**config.__dict__,
                                 "database_url": f"sqlite:///{workdir / 'bench.db'}"})
    app = AppContext(_config=config)
    samples.write_csv(workdir / "contacts.csv", n, seed=1,
                      mix=samples.SampleMix(invalid_rate=0, landline_rate=0, repeat_rate=0))
    import_contacts(app.engine, workdir / "contacts.csv", "residents", "CN")
    drive = workdir / "pingan-ding.toml"
    drive.write_text(domestic_sms.campaign_text(
        (ROOT / "campaigns/pingan-ding.toml").read_text(encoding="utf-8"), provider),
        encoding="utf-8")
    checked = campaign_store.check_file(config, app.engine, drive)
    assert checked.campaign is not None, checked.issues
    campaign_store.apply_campaign(app.engine, checked.campaign, str(drive), checked.text)
    lifecycle.approve(app.engine, "pingan-ding", "bench")
    channels = registry.build_channels(config.channels)
    plan_firing(app.engine, "pingan-ding", checked.campaign.schedule.start,
                channels.__getitem__)
    engine = DeliveryEngine(app.engine, {"sms": channels["sms"]}, "http://127.0.0.1:9",
                            EngineOptions(respect_send_windows=False))
    return lambda: engine.run(until_idle=True).sent


def bare_pool(provider: str, api: str, n: int, threads: int) -> int:
    """What a user would write by hand: the SDK, one number per call, a thread pool."""
    from channels.base import Message, Placement

    os.environ.update(domestic_sms.environment(provider))
    code = domestic_sms.TEMPLATES[provider][0]
    placement = Placement(0, "sms", {"template": code})
    numbers = [f"+86139{i:08d}" for i in range(n)]
    if provider == "aliyun":
        aliyun = AliyunAccount(_aliyun(api))

        def send(to: str) -> object:
            message = Message(0, to, placement, 1, run_id=1)
            return aliyun.send([message], domestic_sms.SIGN_NAME, code, [{"hotline": "110"}], 1)
    else:
        tencent = TencentAccount(_tencent(api), timedelta(minutes=10))

        def send(to: str) -> object:
            message = Message(0, to, placement, 1, run_id=1)
            return tencent.send([message], domestic_sms.SIGN_NAME, code, ["110"])
    assert all(national(t) for t in numbers)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, numbers))
    return n


def _secret(provider: str) -> object:
    from dispatcher.config import Secret

    return Secret("bench", domestic_sms.SECRET_VARIABLES[provider])


def _aliyun(api: str) -> AliyunSettings:
    from dispatcher.sandbox.aliyun import SANDBOX_ACCESS_KEY_ID

    return AliyunSettings(endpoint=api, access_key_id=SANDBOX_ACCESS_KEY_ID,
                          access_key_secret=_secret("aliyun"))  # type: ignore[arg-type]


def _tencent(api: str) -> TencentSettings:
    from dispatcher.sandbox.tencent import SANDBOX_SDK_APP_ID, SANDBOX_SECRET_ID

    return TencentSettings(endpoint=api, secret_id=SANDBOX_SECRET_ID,
                           secret_key=_secret("tencent"),  # type: ignore[arg-type]
                           sdk_app_id=SANDBOX_SDK_APP_ID)


def variants(provider: str, api: str, n: int, threads: int
             ) -> list[tuple[str, Callable[[], int]]]:
    """Each variant ready to measure: the engine's contacts are imported and planned
    before its clock starts (a bare pool has nothing to plan)."""
    return [(f"(e) {provider}: engine, batch calls", engine_send(provider, api, n, threads)),
            (f"(f) {provider}: bare thread pool, one number per call",
             lambda: bare_pool(provider, api, n, threads))]


def reset(api: str) -> None:
    requests.post(f"{api}/_sandbox/reset", timeout=10)
