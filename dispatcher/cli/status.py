"""``dispatcher status``: what the executor is doing, for people and for monitoring."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import click
from sqlalchemy.exc import SQLAlchemyError

from dispatcher.cli.output import print_json, print_table
from dispatcher.cli.params import FloatRange
from dispatcher.config import Config
from dispatcher.context import AppContext
from dispatcher.delivery.celery import app as celery_app
from dispatcher.delivery.status import ExecutorStatus, RunningBlock, read_status
from dispatcher.errors import DispatcherError

# A worker beats every few seconds (`dispatcher worker --heartbeat`); a minute of silence
# means it is gone, or stuck in a provider call far longer than any timeout allows.
STALE_HEARTBEAT_SECONDS = 60.0


@dataclass(frozen=True)
class BrokerView:
    """What the broker says: reachable or why not, the queue's depth, who answered."""

    reachable: bool
    error: str | None
    queue: str
    depth: int | None
    answered: tuple[str, ...]


@click.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (keys described above) instead of tables.")
@click.option("--check", is_flag=True,
              help="Health check for monitoring: print \"ok\" and exit 0 when healthy, "
                   "else one line per problem and exit 1.")
@click.option("--max-lag", type=FloatRange(min=0), default=300.0, show_default=True,
              help="Seconds the oldest due work may wait for a worker before it is a "
                   "problem (Celery executor).")
@click.option("--timeout", type=FloatRange(min=0.1, max=600), default=2.0, show_default=True,
              help="Seconds to wait for the broker to connect and for workers to answer.")
@click.pass_obj
def status(app: AppContext, as_json: bool, check: bool, max_lag: float,
           timeout: float) -> None:
    """Show what the executor is doing: open rows, and with Celery the broker and workers.

    Always shows the executor and each sendable run's open rows (planned, sending).
    With executor = "celery" it also asks the workers consuming [celery] queue to
    answer (within --timeout), reads the queue's depth from the broker, and shows each
    worker with the block it holds and its heartbeat's age; blocks queued, waiting for
    a queue slot (idle with work due) and running; and the lag: how long the oldest due
    work has waited. A worker answers between tasks only (one task at a time); while it
    holds a block, its heartbeat shows it lives. The broker's URL is never printed.

    Problems (--check exits 1 with one line each; the tables end with them too):
    the broker cannot be reached; no worker answered and none holds a block with a
    fresh heartbeat while rows are open; the lag is above --max-lag; a running block's
    heartbeat is older than 60 s. With the local executor only an unreachable database
    is a problem (an error line, exit 1).

    \b
    --json keys: executor, at, rows_open, open_rows [{run_id, campaign_id, planned,
    sending}], problems [text], healthy; with Celery also broker {reachable, error,
    queue, depth}, workers [{name, answered, block_id, heartbeat_seconds}], blocks
    {queued, waiting, running [{worker, block_id, run_id, channel, first_id, last_id,
    running_seconds, heartbeat_seconds}]}, lag_seconds. With --check too, it prints the
    JSON and exits 1 when there are problems.
    """
    config = app.config
    state = _read_database(app)
    broker = ask_broker(config, timeout) if config.executor == "celery" else None
    found = problems(state, broker, max_lag)
    if as_json:
        print_json(as_dict(config, state, broker, found))
    elif check:
        click.echo("\n".join(found) if found else "ok")
    else:
        _show(state, broker, found)
    if check and found:
        sys.exit(1)


def _read_database(app: AppContext) -> ExecutorStatus:
    try:
        return read_status(app.engine)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise DispatcherError(f"the database cannot be read: {cause}") from exc


def ask_broker(config: Config, timeout: float) -> BrokerView:
    """Connect once (no retry loop: a status must not hang), read the queue's depth and
    ask the workers for their queues. Workers of other queues on the same broker answer
    too; only those consuming ours count."""
    queue = config.celery.queue
    url = config.celery.url("broker_url")
    tasks = celery_app.make_app(config)
    tasks.conf.broker_connection_timeout = timeout
    try:
        with tasks.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                   timeout=timeout)
        depth = celery_app.CeleryQueue(tasks, queue).depth()
        replies = tasks.control.inspect(timeout=timeout).active_queues() or {}
    except Exception as exc:  # refused, timed out, bad credentials: all say unreachable
        return BrokerView(False, _unreachable(url, exc), queue, None, ())
    finally:
        tasks.close()
    answered = sorted(name for name, queues in replies.items()
                      if any(q.get("name") == queue for q in queues or ()))
    return BrokerView(True, None, queue, depth, tuple(answered))


def _unreachable(url: str, exc: Exception) -> str:
    """Where and why, with the URL's credentials never shown (even if the error quotes
    the URL)."""
    try:
        parts = urlsplit(url.split(";")[0])
        where = f" at {parts.hostname}:{parts.port}" if parts.hostname and parts.port else ""
        secret = parts.password
    except ValueError:
        where, secret = "", None
    reason = str(exc).replace(url, "[celery] broker_url") or type(exc).__name__
    if secret:
        reason = reason.replace(secret, "***")
    return f"unreachable{where} ([celery] broker_url): {reason}"


def problems(state: ExecutorStatus, broker: BrokerView | None, max_lag: float) -> list[str]:
    """Lines for --check; none with the local executor (``broker`` None)."""
    if broker is None:
        return []
    found: list[str] = []
    alive = any(b.heartbeat_seconds <= STALE_HEARTBEAT_SECONDS for b in state.running)
    if not broker.reachable:
        found.append(f"broker {broker.error}")
    elif not broker.answered and not alive and state.rows_open:
        found.append(f"no worker answered on queue {broker.queue!r} while "
                     f"{state.rows_open} row(s) are open: start `dispatcher worker`")
    if state.lag_seconds > max_lag:
        found.append(f"lag {state.lag_seconds:.0f} s is above --max-lag {max_lag:g} s: the "
                     "oldest due work has waited that long for a worker")
    for block in state.running:
        if block.heartbeat_seconds > STALE_HEARTBEAT_SECONDS:
            found.append(f"worker {block.worker} holds block {block.block_id} (run "
                         f"{block.run_id}) without a heartbeat for "
                         f"{block.heartbeat_seconds:.0f} s")
    return found


def as_dict(config: Config, state: ExecutorStatus, broker: BrokerView | None,
            found: list[str]) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "executor": config.executor, "at": state.at.isoformat(),
        "rows_open": state.rows_open, "open_rows": [asdict(r) for r in state.open_rows]}
    if broker is not None:
        shown["broker"] = {"reachable": broker.reachable, "error": broker.error,
                           "queue": broker.queue, "depth": broker.depth}
        shown["workers"] = [
            {"name": name, "answered": name in broker.answered,
             "block_id": None if block is None else block.block_id,
             "heartbeat_seconds": None if block is None else round(block.heartbeat_seconds, 1)}
            for name, block in _workers(state, broker)]
        shown["blocks"] = {"queued": state.queued, "waiting": state.waiting,
                           "running": [asdict(b) for b in state.running]}
        shown["lag_seconds"] = round(state.lag_seconds, 1)
    return {**shown, "problems": found, "healthy": not found}


def _workers(state: ExecutorStatus, broker: BrokerView
             ) -> list[tuple[str, RunningBlock | None]]:
    """Each running block with its worker, then the answering workers holding none."""
    holders = {b.worker for b in state.running}
    return ([(b.worker, b) for b in state.running]
            + [(name, None) for name in broker.answered if name not in holders])


def _show(state: ExecutorStatus, broker: BrokerView | None, found: list[str]) -> None:
    if broker is None:
        click.echo("executor: local (`dispatcher run` sends by itself)")
    else:
        click.echo(f"executor: celery (queue {broker.queue!r})")
        _show_broker(state, broker)
    if state.open_rows:
        print_table(["run", "campaign", "planned", "sending"],
                    [(r.run_id, r.campaign_id, r.planned, r.sending) for r in state.open_rows],
                    title=f"Open rows: {state.rows_open}")
    else:
        click.echo("open rows: none (no sendable run)")
    if broker is not None:
        for line in found:
            click.echo(f"problem: {line}")
        click.echo(f"health: {len(found)} problem(s)" if found else "health: ok")


def _show_broker(state: ExecutorStatus, broker: BrokerView) -> None:
    if broker.reachable:
        depth = "unknown" if broker.depth is None else str(broker.depth)
        click.echo(f"broker: reachable; {depth} task(s) in the queue")
    else:
        click.echo(f"broker: {broker.error}")
    click.echo(f"blocks: {state.queued} queued, {state.waiting} waiting for a queue slot, "
               f"{len(state.running)} running; lag {state.lag_seconds:.0f} s")
    rows = [(name, _answered(name, block, broker), *_held(block))
            for name, block in _workers(state, broker)]
    if rows:
        print_table(["worker", "answered", "block", "run", "channel", "ids", "running for",
                     "heartbeat"], rows, title="Workers")
    elif broker.reachable:
        click.echo("workers: none answered")


def _answered(name: str, block: RunningBlock | None, broker: BrokerView) -> str:
    if name in broker.answered:
        return "yes"
    fresh = block is not None and block.heartbeat_seconds <= STALE_HEARTBEAT_SECONDS
    return "no, busy" if fresh else "no"


def _held(block: RunningBlock | None) -> tuple[object, ...]:
    if block is None:
        return ("", "", "", "", "", "")
    return (block.block_id, block.run_id, block.channel, f"{block.first_id}-{block.last_id}",
            f"{block.running_seconds:.0f} s", f"{block.heartbeat_seconds:.0f} s ago")


COMMANDS = [status]
