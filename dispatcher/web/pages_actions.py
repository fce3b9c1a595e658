"""The actions on a campaign's page: approve, pause, resume, cancel, retry.

An action calls the core function with the signed-in user as the actor, so the audit
log shows who did it, then answers 303 back to the campaign page, where the outcome is
shown once (kept in the session meanwhile, so no link can make the page say something
nobody did).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from dispatcher import lifecycle, runs
from dispatcher.bounds import MAX_DB_INT
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.users import APPROVE, OPERATE
from dispatcher.web.auth import check_csrf, engine_of
from dispatcher.web.pages import FLASH, Reader, require


def campaign_action(request: Request, campaign_id: str, action: str, user: Reader,
                    csrf: Annotated[str, Form()] = "",
                    version: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    found = ACTIONS.get(action)
    if found is None:
        raise HTTPException(404, f"no action {action!r}; actions: {', '.join(ACTIONS)}")
    require(user, found.permission, found.doing)
    try:
        message = found.act(engine_of(request), campaign_id, user.name, version)
    except NotFoundError:
        raise
    except DispatcherError as exc:
        from dispatcher.web.pages_campaigns import campaign_view  # it imports this module

        return campaign_view(request, user, campaign_id, error=str(exc), status_code=409)
    request.session[FLASH] = message
    return RedirectResponse(f"/campaigns/{quote(campaign_id, safe='')}", status_code=303)


# Actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    permission: str
    doing: str  # for the 403 page: "Approving needs the approver or admin role"
    act: Callable[[Engine, str, str, str], str]  # (engine, campaign, actor, version) -> message


def _approve(engine: Engine, campaign_id: str, actor: str, version: str) -> str:
    # The form names the version the approver saw: a newer one stays unapproved.
    if version and not (version.isascii() and version.isdigit() and len(version) <= 19
                        and 1 <= int(version) <= MAX_DB_INT):
        raise DispatcherError(f"version {version[:40]!r} is not a version number; approve "
                              "a version shown on the campaign's page")
    done = lifecycle.approve(engine, campaign_id, actor, int(version) if version else None)
    if not done.changed:
        return f"Version {done.version} was already approved."
    return f"Version {done.version} approved by {actor}."


def _pause(engine: Engine, campaign_id: str, actor: str, _version: str) -> str:
    return f"Paused run(s) {_ids(runs.pause(engine, campaign_id, actor).runs)}."


def _resume(engine: Engine, campaign_id: str, actor: str, _version: str) -> str:
    return f"Resumed run(s) {_ids(runs.resume(engine, campaign_id, actor).runs)}."


def _cancel(engine: Engine, campaign_id: str, actor: str, _version: str) -> str:
    change = runs.cancel(engine, campaign_id, actor)
    return (f"Cancelled run(s) {_ids(change.runs)}: {change.rows} row(s) not yet sent "
            "are skipped (cancelled).")


def _retry(engine: Engine, campaign_id: str, actor: str, _version: str) -> str:
    change = runs.retry_failed(engine, campaign_id, actor)
    return f"Requeued {change.rows} failed row(s)."


def _ids(run_ids: list[int]) -> str:
    return ", ".join(map(str, run_ids))


ACTIONS = {
    "approve": Action(APPROVE, "Approving", _approve),
    "pause": Action(OPERATE, "Pausing", _pause),
    "resume": Action(OPERATE, "Resuming", _resume),
    "cancel": Action(OPERATE, "Cancelling", _cancel),
    "retry": Action(OPERATE, "Retrying failed rows", _retry),
}
