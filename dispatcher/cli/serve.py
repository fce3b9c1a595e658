"""``dispatcher serve``: the web app (dashboard, REST API, webhooks, health) in the foreground."""

from __future__ import annotations

import logging

import click
import uvicorn

from channels.base import CallbackReceiver
from channels.delivery_ids import DELIVERY_PARAM
from dispatcher import registry
from dispatcher.cli.output import show_service_logs
from dispatcher.context import AppContext
from dispatcher.delivery import callback_urls as urls
from dispatcher.errors import ConfigError
from dispatcher.venues.protocols import SignageChannel, VenueChannel
from dispatcher.web.app import create_app
from dispatcher.web.docs import DOCS_PATH
from dispatcher.web.hooks import EventReceiver, HidePushTokens, PushReceiver


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) as (host, port); ValueError when malformed."""
    host, sep, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT, such as 127.0.0.1:8080 or 0.0.0.0:8080")
    return host, int(port)


@click.command()
@click.option("--listen", metavar="HOST:PORT",
              help="Address to listen on (default: web.listen of the config).")
@click.pass_obj
def serve(app: AppContext, listen: str | None) -> None:
    """Serve the dashboard, REST API and docs, webhooks, metrics and health (Ctrl-C stops).

    \b
    One app on one address:
      /campaigns  the dashboard for planners, approvers and operators (sign in)
      /api        the REST API (API tokens); its docs at /docs and /redoc
      /hooks      provider webhooks: receipts, replies, events, proof of play, play logs
      /feeds      the LED screens' playlists
      /metrics    Prometheus metrics; /healthz the health check
    The URLs it prints use web.public_url, where browsers and providers reach it.
    """
    config = app.config
    try:
        host, port = parse_listen(listen or config.web.listen)
    except ValueError as exc:
        if listen:
            raise click.BadParameter(str(exc), param_hint="--listen") from None
        raise ConfigError("web.listen", str(exc), config.source) from None
    channels = registry.build_channels(config.channels, config.source)
    web_app = create_app(app.engine, config, channels)
    public = config.web.public_url
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"listening on http://{shown}:{port} (public URL {public})")
    base = public.rstrip("/")
    click.echo(f"  dashboard: {base}/campaigns")
    click.echo(f"  API docs: {base}{DOCS_PATH} (REST API under {base}/api)")
    for name, channel in channels.items():
        if isinstance(channel, CallbackReceiver):
            click.echo(f"  {name} status callbacks: {urls.status_url(public, name)}"
                       f"?{DELIVERY_PARAM}=<delivery id>")
            click.echo(f"  {name} replies: {urls.inbound_url(public, name)}")
        if isinstance(channel, SignageChannel):
            click.echo(f"  {name} feeds: {urls.feed_url(public, name, '<screen>')}; proof of "
                       f"play: {urls.pop_url(public, name)}?screen=<screen>")
        if isinstance(channel, VenueChannel):
            click.echo(f"  {name} play logs: {urls.playlog_url(public, name)}?cinema=<cinema>")
        if isinstance(channel, PushReceiver):
            for account in channel.push_accounts():
                click.echo(f"  {name} account {account}: delivery reports "
                           f"{urls.push_url(public, name, account, 'report', '<callback_token>')}"
                           f"; replies "
                           f"{urls.push_url(public, name, account, 'reply', '<callback_token>')}")
        if isinstance(channel, EventReceiver):
            click.echo(f"  {name} events (the account's server URL): "
                       f"{urls.events_url(public, name)}")
    click.echo(f"  health: {urls.health_url(public)}")
    # uvicorn configures only its own loggers; show ours (opt-outs, unmatched receipts) too.
    show_service_logs(timestamps=False)
    logging.getLogger("uvicorn.access").addFilter(HidePushTokens())
    uvicorn.run(web_app, host=host, port=port, log_level="info")


COMMANDS = [serve]
