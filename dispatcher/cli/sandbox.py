"""``dispatcher sandbox``: provider simulators on loopback, for the demo and offline tests.

The options several commands share are declared once, in :mod:`dispatcher.cli.sandbox_options`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from dispatcher.cli import sandbox_options as opt
from dispatcher.cli.sandbox_aliyun import register as register_aliyun
from dispatcher.cli.sandbox_tencent import register as register_tencent
from dispatcher.sandbox import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AES_KEY,
    SANDBOX_APPID,
    SANDBOX_TOKEN,
    CinemaOptions,
    CinemaSystem,
    LedFleet,
    LedOptions,
    PartnerOptions,
    PartnerSandbox,
    TwilioOptions,
    TwilioSandbox,
    WeChatOptions,
    WeChatSandbox,
    read_program,
    read_screens,
    read_tokens,
)
from dispatcher.sandbox.serving import serve_in_foreground

SAME_RUN = "Seed of every random fault: the same seed gives the same run."


@click.group()
def sandbox() -> None:
    """Fake providers on loopback: the real client libraries talk to them, nothing is sent."""


@sandbox.command()
@opt.listen(8765, "Port to listen on; set [channels.sms] api_base to http://HOST:PORT.")
@opt.seed(SAME_RUN)
@opt.latency("API response")
@opt.rate("--error-rate", "Fraction of creates answered 500 or 503; half of them create the "
                      "message first (a lost response).")
@opt.timeouts("Fraction of creates that create the message but answer only after "
          "--timeout-delay seconds.", "response")
@opt.throttle("create requests", "429 (code 20429, Retry-After: 1)", "creating them")
@opt.rate("--undelivered-rate", "Fraction of messages that end undelivered "
                            "(30003/30005/30006/30008) instead of delivered.")
@opt.max_rate("Accept at most this many messages per second; more get 429.")
@click.option("--account-sid", envvar="TWILIO_ACCOUNT_SID", default=SANDBOX_ACCOUNT_SID,
              show_default=True, help="Account SID clients must use (env TWILIO_ACCOUNT_SID).")
@click.option("--auth-token-env", default="TWILIO_AUTH_TOKEN", show_default=True,
              help="Environment variable holding the auth token clients must use; it also "
                   "signs the webhooks. The token itself is never a flag.")
@click.option("--inbound-url", help="Where POST /_sandbox/inbound delivers a simulated "
                                    "reply, e.g. the dispatcher's inbound SMS webhook.")
@click.option("--unsubscribed", multiple=True, metavar="NUMBER",
              help="A number that already replied STOP (creates to it fail 21610). "
                   "Repeatable.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False),
              help="Append every accepted message to this file as a JSON line.")
def serve(port: int, host: str, seed: int, latency_ms: float, error_rate: float,
          timeout_rate: float, timeout_delay: float, throttle_every: int,
          throttle_burst: int, undelivered_rate: float, max_rate: float | None,
          account_sid: str, auth_token_env: str, inbound_url: str | None,
          unsubscribed: tuple[str, ...], log_path: str | None) -> None:
    """Run a Twilio-compatible Messages API in the foreground (Ctrl-C stops it).

    Inspect it at /_sandbox/messages and /_sandbox/stats; simulate a reply with
    POST /_sandbox/inbound (From, Body); start over with POST /_sandbox/reset.
    """
    token = opt.secret_from(auth_token_env, "the auth token clients will use", "--auth-token-env")
    opt.check_throttle(throttle_every, throttle_burst)
    with opt.usage_errors():
        options = TwilioOptions(
            account_sid=account_sid, auth_token=token, seed=seed, latency_ms=latency_ms,
            error_rate=error_rate, timeout_rate=timeout_rate, timeout_delay_s=timeout_delay,
            throttle_every=throttle_every, throttle_burst=throttle_burst,
            undelivered_rate=undelivered_rate, max_rate=max_rate, inbound_url=inbound_url,
            log_path=log_path, unsubscribed=frozenset(unsubscribed))
    box = TwilioSandbox(options)
    click.echo(f"Twilio sandbox on http://{host}:{port} (account {account_sid}, seed {seed}); "
               f"set [channels.sms] api_base to this URL. Ctrl-C stops it.", err=True)
    serve_in_foreground(box, host, port)


@sandbox.command()
@opt.listen(8766, "Port to listen on; set [channels.wechat] api_base to http://HOST:PORT.")
@opt.seed("Seed of the followers' openids, tags, faults and reads: the same seed gives "
          "the same run.")
@click.option("--followers", type=click.IntRange(0, 1_000_000), default=10_000,
              show_default=True, help="How many followers the account has.")
@click.option("--wxname", "wxnames", multiple=True, metavar="WXID",
              help="WeChat id of a test user that previews may use (towxname), the first "
                   "followers in order. Repeatable; default tester1 and tester2.")
@click.option("--account-type", type=click.Choice(["subscription", "service"]),
              default="service", show_default=True,
              help="subscription: one broadcast a day (then 45028); service: each follower "
                   "receives at most 4 broadcasts a month (the rest are filtered out).")
@click.option("--callback-url", help="The account's server URL: where MASSSENDJOBFINISH "
                                     "and TEMPLATESENDJOBFINISH events are posted, signed.")
@click.option("--encrypt", is_flag=True,
              help="Post events in safe mode: AES-encrypted with the EncodingAESKey, "
                   "encrypt_type=aes and msg_signature in the query.")
@click.option("--event-delay", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Seconds from a send to its event.")
@opt.rate("--error-rate", "Fraction of each job's recipients it fails to reach (its "
                          "ErrorCount).")
@opt.rate("--throttle-rate", "Fraction of mass-send and template requests answered 45009.")
@opt.rate("--system-error-rate", "Fraction of those requests answered -1 (system error); "
                                 "half of the mass sends among them create the job first "
                                 "(a lost response).")
@opt.rate("--duplicate-event-rate", "Fraction of events posted twice, as WeChat repeats "
                                    "events.")
@opt.rate("--template-block-rate", 'Fraction of template messages whose event says '
                                   '"failed:user block".')
@opt.rate("--template-fail-rate", 'Fraction of template messages whose event says '
                                  '"failed: system failed".')
@click.option("--token-expiry-every", type=click.IntRange(min=0), default=0,
              show_default=True, help="Expire the access token used for every N-th call "
                                      "(clients must fetch a new one: 42001). 0: never.")
@click.option("--mass-per-minute", type=click.IntRange(min=1), default=60, show_default=True,
              help="Mass-send requests allowed per rolling minute; more get 45009.")
@click.option("--start-date", type=click.DateTime(["%Y-%m-%d"]),
              help="The sandbox's first today (default: today's UTC date); move it with "
                   "POST /_sandbox/advance_days.")
@click.option("--appid", envvar="WECHAT_APPID", default=SANDBOX_APPID, show_default=True,
              help="AppID clients must use (env WECHAT_APPID).")
@click.option("--appsecret-env", default="WECHAT_APPSECRET", show_default=True,
              help="Environment variable holding the AppSecret clients must use. The secret "
                   "itself is never a flag.")
@click.option("--token-env", default="WECHAT_TOKEN", show_default=True,
              help="Environment variable holding the server token events are signed with "
                   "(the sandbox's own when unset).")
@click.option("--aes-key-env", default="WECHAT_AES_KEY", show_default=True,
              help="Environment variable holding the 43-character EncodingAESKey for "
                   "--encrypt (the sandbox's own when unset).")
def wechat(port: int, host: str, seed: int, followers: int, wxnames: tuple[str, ...],
           account_type: str, callback_url: str | None, encrypt: bool, event_delay: float,
           error_rate: float, throttle_rate: float, system_error_rate: float,
           duplicate_event_rate: float, template_block_rate: float,
           template_fail_rate: float, token_expiry_every: int,
           mass_per_minute: int, start_date: datetime | None, appid: str,
           appsecret_env: str, token_env: str, aes_key_env: str) -> None:
    """Run a WeChat-official-account-compatible API in the foreground (Ctrl-C stops it).

    Serves the token, followers and tags, mass send (sendall with filter.tag_id, send,
    preview, get), template messages and article statistics (datacube). Inspect it at
    /_sandbox/stats and /_sandbox/jobs; move its day with POST /_sandbox/advance_days
    {"days": n}; start over with POST /_sandbox/reset.
    """
    secret = opt.secret_from(appsecret_env, "the AppSecret clients will use",
                             "--appsecret-env")
    with opt.usage_errors():
        options = WeChatOptions(
            appid=appid, appsecret=secret, token=os.environ.get(token_env) or SANDBOX_TOKEN,
            aes_key=os.environ.get(aes_key_env) or SANDBOX_AES_KEY, seed=seed,
            followers=followers, account_type=account_type, callback_url=callback_url,
            encrypt=encrypt, event_delay_s=event_delay, error_rate=error_rate,
            throttle_rate=throttle_rate, system_error_rate=system_error_rate,
            duplicate_event_rate=duplicate_event_rate,
            template_block_rate=template_block_rate, template_fail_rate=template_fail_rate,
            token_expiry_every=token_expiry_every,
            mass_per_minute=mass_per_minute,
            start_date=start_date.date() if start_date else None,
            wxnames=wxnames or WeChatOptions.wxnames)
    _run_wechat(WeChatSandbox(options), host, port)


def _run_wechat(box: WeChatSandbox, host: str, port: int) -> None:
    opts = box.options
    today: date = box.clock.today()
    click.echo(f"WeChat sandbox on http://{host}:{port} (appid {opts.appid}, "
               f"{opts.account_type} account, {opts.followers} followers, seed {opts.seed}, "
               f"today {today}); set [channels.wechat] api_base to this URL. "
               "Ctrl-C stops it.", err=True)
    serve_in_foreground(box, host, port)


@sandbox.command()
@click.option("--screens", "screens_file", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="CSV file of the dispatcher's screens with columns id,token,controller "
                   "(controller: pull or push).")
@opt.dispatcher_url("The dispatcher's base URL: feeds, media and proof of play go there.")
@opt.listen(8767, "Port of the push controllers' endpoints (0: a free port).",
            "Address to bind the push endpoints. Keep loopback.", opt.PORT_OR_FREE)
@opt.seed("Seed of play phases, offline screens and replays.")
@opt.sim_clock("Simulated time at the start, ISO 8601 (default: now, UTC).")
@click.option("--poll-every", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Real seconds between a pull controller's polls.")
@opt.report_every(0.5, "Real seconds between proof-of-play reports.")
@opt.rate("--offline-rate", "Fraction of screens that go offline once (no polls or "
                            "reports, pushes refused 503; they keep playing and send the "
                            "backlog when back).")
@click.option("--offline-seconds", type=click.FloatRange(min=0), default=3.0,
              show_default=True, help="Real seconds an offline period lasts.")
@click.option("--offline-within", type=click.FloatRange(min=0), default=2.0,
              show_default=True, help="Offline periods begin at a seeded moment within this "
                                      "many real seconds of the start.")
@opt.rate("--replay-rate", "Fraction of acknowledged PoP batches posted once more (the "
                           "dispatcher must count them once).")
@opt.max_batch("Most play records in one PoP batch.")
@opt.workers(8, "Worker threads shared by all controllers.")
@opt.run_for()
def led(screens_file: str, dispatcher_url: str, port: int, host: str, seed: int,
        time_scale: float, start: datetime | None, until: datetime | None, poll_every: float,
        report_every: float, offline_rate: float, offline_seconds: float,
        offline_within: float, replay_rate: float, max_batch: int, workers: int,
        duration: float | None, stats_every: float) -> None:
    """Run a fleet of LED controllers against the dispatcher (Ctrl-C stops it).

    Pull screens poll GET /feeds/led/{id}; push screens take POST
    /controllers/{id}/playlist here; all post proof of play to POST /hooks/led/pop. The
    final stats are printed on stdout as JSON.
    """
    with opt.usage_errors():
        screens = read_screens(screens_file)
        options = LedOptions(
            seed=seed, time_scale=time_scale, start=start, until=until,
            poll_every_s=poll_every, report_every_s=report_every, offline_rate=offline_rate,
            offline_s=offline_seconds, offline_within_s=offline_within,
            replay_rate=replay_rate, max_batch=max_batch, workers=workers)
    fleet = LedFleet(screens, dispatcher_url, options)
    with fleet.run(host, port or None):
        pushes = sum(1 for spec in screens if spec.controller == "push")
        where = f"; push endpoints {fleet.url}/controllers/{{id}}/playlist" if pushes else ""
        click.echo(f"LED fleet: {len(screens)} screens ({pushes} push) reporting to "
                   f"{fleet.dispatcher}{where}. Ctrl-C stops it.", err=True)
        _run_for(fleet.stats, duration, stats_every)
        fleet.wait_for_reports(timeout=min(5.0, 4 * report_every))
    click.echo(json.dumps(fleet.stats(), indent=2, ensure_ascii=False))


def _run_for(stats: Callable[[], dict[str, Any]], duration: float | None,
             stats_every: float) -> None:
    """Until ``duration`` is over or Ctrl-C, printing stats lines every ``stats_every``."""
    end = None if duration is None else time.monotonic() + duration
    step = stats_every or 1.0
    try:
        while end is None or time.monotonic() < end:
            time.sleep(step if end is None else max(0.0, min(step, end - time.monotonic())))
            if stats_every:
                click.echo(json.dumps(stats(), ensure_ascii=False), err=True)
    except KeyboardInterrupt:
        click.echo("stopping", err=True)


@sandbox.command()
@click.option("--tokens", "tokens_file", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="CSV file of the cinemas' bearer tokens with columns id,token; only "
                   "these cinemas are run.")
@click.option("--showtimes", "showtimes_file", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="The showtimes CSV (id,cinema,auditorium,film,rating,start,"
                   "expected_seats,sold_seats,status): the screenings the system runs.")
@click.option("--cinemas", "cinemas_file", type=click.Path(exists=True, dir_okay=False),
              help="The cinemas CSV, for the pre-show blocks and their seconds "
                   "(default: cinemas.csv beside the showtimes).")
@click.option("--auditoriums", "auditoriums_file",
              type=click.Path(exists=True, dir_okay=False),
              help="The auditoriums CSV, for the seats that cap admissions "
                   "(default: auditoriums.csv beside the showtimes).")
@opt.dispatcher_url("The dispatcher's base URL: play logs go to URL/hooks/cinema/playlog.")
@opt.listen(8768, "Port of the booking API (0: a free port).",
            "Address to bind the booking API. Keep loopback.", opt.PORT_OR_FREE)
@opt.seed("Seed of lost answers, drops, cancellations, admissions and replays.")
@opt.sim_clock("Simulated time at the start, ISO 8601 (default: 00:00 local time of the "
               "first screening's day).")
@opt.report_every(0.5, "Real seconds between a cinema's play-log posts.")
@opt.rate("--error-rate", "Fraction of new bookings answered 503; half of them are booked "
                          "first (a lost answer: a retry with the same booking id gets 200).")
@opt.rate("--drop-rate", "Fraction of bookings not played when their screening starts "
                         "(dropped).")
@opt.rate("--cancel-rate", "Fraction of screenings cancelled an hour (simulated) before "
                           "they start; their bookings are reported cancelled.")
@opt.rate("--replay-rate", "Fraction of acknowledged play-log batches posted once more (the "
                           "dispatcher must count them once).")
@opt.latency("booking API answer")
@opt.max_batch("Most entries in one play-log post.")
@opt.workers(4, "Worker threads shared by all cinemas.")
@opt.run_for()
def cinema(tokens_file: str, showtimes_file: str, cinemas_file: str | None,
           auditoriums_file: str | None, dispatcher_url: str, port: int, host: str,
           seed: int, time_scale: float, start: datetime | None, until: datetime | None,
           report_every: float, error_rate: float, drop_rate: float, cancel_rate: float,
           replay_rate: float, latency_ms: float, max_batch: int, workers: int,
           duration: float | None, stats_every: float) -> None:
    """Run a cinema management system against the dispatcher (Ctrl-C stops it).

    Takes spot bookings at POST /bookings (DELETE /bookings/{id} cancels one), plays the
    screenings on a fast clock and posts each cinema's play log to POST
    /hooks/cinema/playlog. Inspect it at /_sandbox/stats and /_sandbox/bookings. The
    final stats are printed on stdout as JSON.
    """
    beside = Path(showtimes_file).parent
    with opt.usage_errors((OSError, ValueError)):
        program = read_program(cinemas_file or beside / "cinemas.csv",
                               auditoriums_file or beside / "auditoriums.csv", showtimes_file)
        options = CinemaOptions(
            seed=seed, time_scale=time_scale, start=start, until=until,
            report_every_s=report_every, error_rate=error_rate, drop_rate=drop_rate,
            cancel_rate=cancel_rate, replay_rate=replay_rate, latency_ms=latency_ms,
            max_batch=max_batch, workers=workers)
        system = CinemaSystem(program, read_tokens(tokens_file), dispatcher_url, options)
    with system.serve(host, port or None) as url:
        begin = system.now().strftime("%Y-%m-%d %H:%M")
        click.echo(f"Cinema system on {url}: {len(system.program.cinemas)} cinemas, "
                   f"{len(system.program.screenings)} screenings, clock from {begin} UTC; "
                   f"play logs to {system.dispatcher}. Ctrl-C stops it.", err=True)
        _run_for(system.stats, duration, stats_every)
        system.wait_for_logs(timeout=min(5.0, 4 * report_every))
    click.echo(json.dumps(system.stats(), indent=2, ensure_ascii=False))


@sandbox.command()
@opt.listen(8769, "Port to listen on; set the endpoint's url in [channels.webhook] "
                  "endpoints to http://HOST:PORT/notices.")
@click.option("--secret-env", default="PARCEL_SECRET", show_default=True,
              help="Environment variable holding the endpoint's shared secret (the one "
                   "its secret = \"env:...\" names): it checks notices and signs "
                   "acknowledgements. The secret itself is never a flag.")
@click.option("--endpoint", "endpoint_name", metavar="NAME",
              help="Endpoint name to put in each acknowledgement's \"endpoint\" field "
                   "(default: none; the dispatcher then tries each endpoint's secret).")
@opt.seed(SAME_RUN)
@opt.latency("answer")
@opt.rate("--error-rate", "Fraction of notices answered 500 or 503; half of them are "
                          "accepted first (a lost answer: the repeat is answered as a "
                          "duplicate).")
@opt.timeouts("Fraction of notices accepted but answered only after --timeout-delay "
              "seconds.", "answer")
@opt.throttle("notice requests", "429 (Retry-After: 1)", "taking them")
@opt.rate("--reject-rate", "Fraction of recipients refused with 400 (not a user of the "
                           "app); the same recipients every time for a seed.")
@opt.rate("--fail-rate", "Fraction of accepted notices acknowledged \"failed\" instead of "
                         "\"delivered\".")
@opt.max_rate("Take at most this many notices per second; more get 429.")
@click.option("--ack-delay", type=click.FloatRange(min=0), default=0.05, show_default=True,
              help="Seconds from accepting a notice to posting its acknowledgement.")
def partner(port: int, host: str, secret_env: str, endpoint_name: str | None, seed: int,
            latency_ms: float, error_rate: float, timeout_rate: float, timeout_delay: float,
            throttle_every: int, throttle_burst: int, reject_rate: float, fail_rate: float,
            max_rate: float | None, ack_delay: float) -> None:
    """Run a partner app's notice endpoint in the foreground (Ctrl-C stops it).

    Takes signed notices at POST /notices (deduped by id) and posts a signed
    acknowledgement to each notice's callback_url. Inspect it at /_sandbox/stats and
    /_sandbox/notices; start over with POST /_sandbox/reset.
    """
    secret = opt.secret_from(secret_env, "the endpoint's secret", "--secret-env")
    opt.check_throttle(throttle_every, throttle_burst)
    with opt.usage_errors():
        options = PartnerOptions(
            secret=secret, seed=seed, latency_ms=latency_ms, error_rate=error_rate,
            timeout_rate=timeout_rate, timeout_delay_s=timeout_delay,
            throttle_every=throttle_every, throttle_burst=throttle_burst,
            reject_rate=reject_rate, fail_rate=fail_rate, max_rate=max_rate,
            endpoint=endpoint_name, ack_delay_s=ack_delay)
    box = PartnerSandbox(options)
    click.echo(f"Partner app sandbox on http://{host}:{port}/notices (seed {seed}); set the "
               "endpoint's url in [channels.webhook] to this URL. Ctrl-C stops it.", err=True)
    serve_in_foreground(box, host, port)


COMMANDS = [sandbox]
register_tencent(sandbox)
register_aliyun(sandbox)
