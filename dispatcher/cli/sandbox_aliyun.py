"""``dispatcher sandbox aliyun``: an Aliyun SMS (dysmsapi 2017-05-25) sandbox in the
foreground, for the demo and offline runs of the ``sms`` channel's ``aliyun`` provider."""

from __future__ import annotations

import click

from dispatcher.cli import sandbox_options as opt
from dispatcher.sandbox.aliyun import SANDBOX_ACCESS_KEY_ID, AliyunOptions, AliyunSandbox
from dispatcher.sandbox.aliyun.wire import mainland
from dispatcher.sandbox.serving import serve_in_foreground

DEFAULT_PORT = 8767


def _pairs(ctx: click.Context, param: click.Parameter,
           values: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` pairs as a mapping (--reject NUMBER=CODE, --template CODE=TEXT)."""
    found: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise click.BadParameter(f"{value!r}: expected {param.metavar}")
        found[key.strip()] = text.strip()
    return found


def _rejects(ctx: click.Context, param: click.Parameter,
             values: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for number, code in _pairs(ctx, param, values).items():
        phone = mainland(number)
        if phone is None:
            raise click.BadParameter(f"{number!r} is not a mainland mobile number, e.g. "
                                     "13800000004=isv.BLACK_KEY_CONTROL_LIMIT")
        found[phone] = code
    return found


def _numbers(ctx: click.Context, param: click.Parameter,
             values: tuple[str, ...]) -> frozenset[str]:
    phones = {value: mainland(value) for value in values}
    wrong = [value for value, phone in phones.items() if phone is None]
    if wrong:
        raise click.BadParameter(f"{wrong[0]!r} is not a mainland mobile number")
    return frozenset(phone for phone in phones.values() if phone is not None)


@click.command("aliyun")
@opt.listen(DEFAULT_PORT, "Port to listen on; set [channels.sms] endpoint to "
                          "http://HOST:PORT.")
@opt.seed("Seed of every random fault and BizId: the same seed gives the same run.")
@opt.latency("API answer")
@opt.rate("--error-rate", "Fraction of send calls (SendSms, SendBatchSms) answered HTTP 500 "
                          "or 503; half of them accept the numbers first (a lost answer).")
@opt.timeouts("Fraction of send calls that accept the numbers but answer only after "
              "--timeout-delay seconds.", "answer")
@opt.throttle("send calls", "HTTP 400 Throttling.User", "accepting any number")
@opt.rate("--undelivered-rate", "Fraction of accepted numbers whose receipt reports failure "
                                "(MK:0001, IC:0001, MK:100D) instead of DELIVERED.")
@opt.max_rate("Take at most this many send calls per second; more get Throttling.User.")
@click.option("--daily-limit", type=click.IntRange(min=1), default=None,
              help="Messages one number may receive per Beijing day; more get "
                   "isv.BUSINESS_LIMIT_CONTROL. Default: unlimited.")
@click.option("--balance", type=click.IntRange(min=0), default=None,
              help="Messages the account can still pay for; then calls get "
                   "isv.AMOUNT_NOT_ENOUGH. Default: unlimited.")
@click.option("--reject", "rejects", multiple=True, metavar="NUMBER=CODE", callback=_rejects,
              help="Refuse NUMBER with this isv code (the whole call when it is the only "
                   "number, its receipt otherwise). Repeatable.")
@click.option("--template", "templates", multiple=True, metavar="CODE=TEXT",
              callback=_pairs,
              help="An approved template, its variables as ${name}: content is rendered "
                   "and other codes are refused. Repeatable; none: any code is accepted.")
@click.option("--unsubscribe-reply", "unsubscribe_replies", multiple=True, metavar="NUMBER",
              callback=_numbers,
              help="A number that replies \"T\" after its first message (pushed to "
                   "--reply-url). Repeatable.")
@click.option("--report-url", help="Where receipts are pushed (JSON arrays), e.g. the "
                                   "dispatcher's Aliyun receipt URL.")
@click.option("--reply-url", help="Where replies are pushed (JSON arrays), e.g. the "
                                  "dispatcher's Aliyun reply URL.")
@click.option("--callback-delay", type=click.FloatRange(min=0), default=0.5,
              show_default=True, help="Seconds from accepting a number to its receipt; "
                                      "pushes go out this often.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False),
              help="Append every accepted number to this file as a JSON line.")
@click.option("--access-key-id", envvar="ALIBABA_CLOUD_ACCESS_KEY_ID",
              default=SANDBOX_ACCESS_KEY_ID, show_default=True,
              help="AccessKey ID clients must sign with (env ALIBABA_CLOUD_ACCESS_KEY_ID).")
@click.option("--secret-env", default="ALIBABA_CLOUD_ACCESS_KEY_SECRET", show_default=True,
              help="Environment variable holding the AccessKey secret clients must sign "
                   "with. The secret itself is never a flag.")
def aliyun(port: int, host: str, seed: int, latency_ms: float, error_rate: float,
           timeout_rate: float, timeout_delay: float, throttle_every: int,
           throttle_burst: int, undelivered_rate: float, max_rate: float | None,
           daily_limit: int | None, balance: int | None, rejects: dict[str, str],
           templates: dict[str, str], unsubscribe_replies: frozenset[str],
           report_url: str | None, reply_url: str | None, callback_delay: float,
           log_path: str | None, access_key_id: str, secret_env: str) -> None:
    """Run an Aliyun SMS API (SendSms, SendBatchSms, QuerySendDetails) in the foreground
    (Ctrl-C stops it).

    Inspect it at /_sandbox/messages and /_sandbox/stats; simulate a reply with POST
    /_sandbox/reply {"phone", "content"}; start over with POST /_sandbox/reset.
    """
    secret = opt.secret_from(secret_env, "the AccessKey secret clients will sign with",
                             "--secret-env")
    opt.check_throttle(throttle_every, throttle_burst)
    with opt.usage_errors():
        options = AliyunOptions(
            access_key_id=access_key_id, access_key_secret=secret, seed=seed,
            latency_ms=latency_ms, error_rate=error_rate, timeout_rate=timeout_rate,
            timeout_delay_s=timeout_delay, throttle_every=throttle_every,
            throttle_burst=throttle_burst, undelivered_rate=undelivered_rate,
            max_rate=max_rate, daily_limit=daily_limit, balance=balance, reject=rejects,
            templates=templates or None, unsubscribe_replies=unsubscribe_replies,
            report_url=report_url, reply_url=reply_url, callback_delay_s=callback_delay,
            log_path=log_path)
    box = AliyunSandbox(options)
    click.echo(f"Aliyun SMS sandbox on http://{host}:{port} (seed {seed}). Set in "
               f'[channels.sms]: provider = "aliyun", endpoint = "http://{host}:{port}", '
               f'access_key_id = "{access_key_id}", '
               f'access_key_secret = "env:{secret_env}". Ctrl-C stops it.', err=True)
    serve_in_foreground(box, host, port)


def register(group: click.Group) -> None:
    """Add ``aliyun`` to the ``dispatcher sandbox`` group."""
    group.add_command(aliyun)
