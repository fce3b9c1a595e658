"""``dispatcher sandbox tencent``: a Tencent Cloud SMS (API 2021-01-11) sandbox in the
foreground, for the demo and offline runs of the ``sms`` channel's ``tencent`` provider."""

from __future__ import annotations

import click

from dispatcher.cli import sandbox_options as opt
from dispatcher.sandbox.serving import serve_in_foreground
from dispatcher.sandbox.tencent import (
    SANDBOX_SDK_APP_ID,
    SANDBOX_SECRET_ID,
    TencentOptions,
    TencentSandbox,
)

DEFAULT_PORT = 8768


def _rejects(ctx: click.Context, param: click.Parameter,
             values: tuple[str, ...]) -> dict[str, str]:
    """``NUMBER=CODE`` pairs as a mapping of 11-digit numbers to codes."""
    found: dict[str, str] = {}
    for value in values:
        number, _, code = value.partition("=")
        digits = number.strip().removeprefix("+86")
        if not (len(digits) == 11 and digits.isdigit() and code.strip()):
            raise click.BadParameter(f"{value!r}: expected NUMBER=CODE, e.g. "
                                     "13800000004=FailedOperation.PhoneNumberInBlacklist")
        found[digits] = code.strip()
    return found


@click.command("tencent")
@opt.listen(DEFAULT_PORT, "Port to listen on; set [channels.sms] endpoint to "
                          "http://HOST:PORT.")
@opt.seed("Seed of every random fault and serial number: the same seed gives the same run.")
@opt.latency("API answer")
@opt.rate("--error-rate", "Fraction of SendSms calls answered HTTP 500 or 503; half of them "
                          "accept the numbers first (a lost answer).")
@opt.timeouts("Fraction of SendSms calls that accept the numbers but answer only after "
              "--timeout-delay seconds.", "answer")
@opt.throttle("SendSms calls", "RequestLimitExceeded", "accepting any number")
@opt.rate("--undelivered-rate", "Fraction of accepted numbers whose status report says "
                                "FAIL instead of SUCCESS.")
@opt.max_rate("Take at most this many SendSms calls per second; more get "
              "RequestLimitExceeded.")
@click.option("--daily-limit", type=click.IntRange(min=0), default=None,
              help="Messages one number may receive per Beijing day; more get "
                   "LimitExceeded.PhoneNumberDailyLimit. Default: unlimited.")
@click.option("--balance", type=click.IntRange(min=0), default=None,
              help="Billable parts left in the SMS package; once spent, numbers get "
                   "FailedOperation.InsufficientBalanceInSmsPackage. Default: unlimited.")
@click.option("--reject", "rejects", multiple=True, metavar="NUMBER=CODE", callback=_rejects,
              help="Refuse sends to NUMBER with this per-number Code. Repeatable.")
@click.option("--unsubscribe-reply", "unsubscribe_replies", multiple=True, metavar="NUMBER",
              help="A number that replies \"T\" after its first message (pushed to "
                   "--reply-url). Repeatable.")
@click.option("--report-url", help="Where status reports are pushed (JSON arrays), e.g. the "
                                   "dispatcher's Tencent status callback URL.")
@click.option("--reply-url", help="Where replies are pushed (JSON arrays), e.g. the "
                                  "dispatcher's Tencent reply callback URL.")
@click.option("--callback-delay", type=click.FloatRange(min=0), default=0.5,
              show_default=True, help="Seconds from accepting a number to its status "
                                      "report; pushes go out this often.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False),
              help="Append every accepted number to this file as a JSON line.")
@click.option("--secret-id", envvar="TENCENTCLOUD_SECRET_ID", default=SANDBOX_SECRET_ID,
              show_default=True, help="SecretId clients must sign with (env "
                                      "TENCENTCLOUD_SECRET_ID).")
@click.option("--secret-env", default="TENCENTCLOUD_SECRET_KEY", show_default=True,
              help="Environment variable holding the SecretKey clients must sign with. "
                   "The key itself is never a flag.")
@click.option("--sdk-app-id", default=SANDBOX_SDK_APP_ID, show_default=True,
              help="The SMS application's SmsSdkAppId clients must name.")
def tencent(port: int, host: str, seed: int, latency_ms: float, error_rate: float,
            timeout_rate: float, timeout_delay: float, throttle_every: int,
            throttle_burst: int, undelivered_rate: float, max_rate: float | None,
            daily_limit: int | None, balance: int | None, rejects: dict[str, str],
            unsubscribe_replies: tuple[str, ...], report_url: str | None,
            reply_url: str | None, callback_delay: float, log_path: str | None,
            secret_id: str, secret_env: str, sdk_app_id: str) -> None:
    """Run a Tencent Cloud SMS API (SendSms, PullSmsSendStatusByPhoneNumber) in the
    foreground (Ctrl-C stops it).

    Inspect it at /_sandbox/messages and /_sandbox/stats; simulate a reply with POST
    /_sandbox/reply {"phone", "content"}; start over with POST /_sandbox/reset.
    """
    secret = opt.secret_from(secret_env, "the SecretKey clients will sign with",
                             "--secret-env")
    opt.check_throttle(throttle_every, throttle_burst)
    with opt.usage_errors():
        options = TencentOptions(
            secret_id=secret_id, secret_key=secret, sdk_app_id=sdk_app_id, seed=seed,
            latency_ms=latency_ms, error_rate=error_rate, timeout_rate=timeout_rate,
            timeout_delay_s=timeout_delay, throttle_every=throttle_every,
            throttle_burst=throttle_burst, undelivered_rate=undelivered_rate,
            max_rate=max_rate, daily_limit=daily_limit, balance=balance, reject=rejects,
            unsubscribe_replies=frozenset(n.removeprefix("+86") for n in unsubscribe_replies),
            report_url=report_url, reply_url=reply_url, callback_delay_s=callback_delay,
            log_path=log_path)
    box = TencentSandbox(options)
    click.echo(f"Tencent Cloud SMS sandbox on http://{host}:{port} (seed {seed}). Set in "
               f'[channels.sms]: provider = "tencent", endpoint = "http://{host}:{port}", '
               f'secret_id = "{secret_id}", secret_key = "env:{secret_env}", '
               f'sdk_app_id = "{sdk_app_id}", region = "ap-guangzhou". Ctrl-C stops it.',
               err=True)
    serve_in_foreground(box, host, port)


def register(group: click.Group) -> None:
    """Add ``tencent`` to the ``dispatcher sandbox`` group."""
    group.add_command(tencent)
