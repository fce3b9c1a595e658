"""``dispatcher sandbox``: provider simulators on loopback, for the demo and offline tests."""

from __future__ import annotations

import os

import click
import uvicorn

from dispatcher.sandbox import SANDBOX_ACCOUNT_SID, TwilioOptions, TwilioSandbox

RATE = click.FloatRange(0, 1)


@click.group()
def sandbox() -> None:
    """Fake providers on loopback: the real client libraries talk to them, nothing is sent."""


@sandbox.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True,
              help="Port to listen on; set [channels.sms] api_base to http://HOST:PORT.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Keep loopback: the sandbox has no real security.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of every random fault: the same seed gives the same run.")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Delay every API response by this many milliseconds.")
@click.option("--error-rate", type=RATE, default=0.0, show_default=True,
              help="Fraction of creates answered 500 or 503; half of them create the "
                   "message first (a lost response).")
@click.option("--timeout-rate", type=RATE, default=0.0, show_default=True,
              help="Fraction of creates that create the message but answer only after "
                   "--timeout-delay seconds.")
@click.option("--timeout-delay", type=click.FloatRange(min=0), default=30.0,
              show_default=True, help="Seconds a --timeout-rate response is held back.")
@click.option("--throttle-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="After every N create requests, answer the next --throttle-burst ones "
                   "429 (code 20429, Retry-After: 1) without creating them. 0: never.")
@click.option("--throttle-burst", type=click.IntRange(min=0), default=0, show_default=True,
              help="How many create requests each throttle burst refuses.")
@click.option("--undelivered-rate", type=RATE, default=0.0, show_default=True,
              help="Fraction of messages that end undelivered (30003/30005/30006/30008) "
                   "instead of delivered.")
@click.option("--max-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Accept at most this many messages per second; more get 429.")
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
    token = os.environ.get(auth_token_env, "")
    if not token:
        raise click.UsageError(f"set the environment variable {auth_token_env} to the auth "
                               "token clients will use (or name another with --auth-token-env)")
    if (throttle_every > 0) != (throttle_burst > 0):
        raise click.UsageError("give --throttle-every and --throttle-burst together")
    try:
        options = TwilioOptions(
            account_sid=account_sid, auth_token=token, seed=seed, latency_ms=latency_ms,
            error_rate=error_rate, timeout_rate=timeout_rate, timeout_delay_s=timeout_delay,
            throttle_every=throttle_every, throttle_burst=throttle_burst,
            undelivered_rate=undelivered_rate, max_rate=max_rate, inbound_url=inbound_url,
            log_path=log_path, unsubscribed=frozenset(unsubscribed))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    box = TwilioSandbox(options)
    click.echo(f"Twilio sandbox on http://{host}:{port} (account {account_sid}, seed {seed}); "
               f"set [channels.sms] api_base to this URL. Ctrl-C stops it.", err=True)
    try:
        uvicorn.run(box.app, host=host, port=port, log_level="warning", access_log=False,
                    lifespan="off", timeout_graceful_shutdown=1)
    finally:
        box.close()


COMMANDS = [sandbox]
