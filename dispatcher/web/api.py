"""The REST API under ``/api`` (OpenAPI at ``/openapi.json``, docs at ``/docs``).

Every call needs an API token (``Authorization: Bearer dsp_...``, made with
``dispatcher user token NAME``); the token's user's role decides what it may do, as on
the pages. Numbers are masked unless the role may see them. Actions are audit-logged
under the token's user.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from dispatcher.accounts.users import APPROVE, OPERATE, READ, UNMASK, User
from dispatcher.approval import lifecycle
from dispatcher.campaigns.versions import load_stored
from dispatcher.delivery.log import Cursor, LogFilter, display_row, page, parse_moment
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.planning import campaign_store, runs
from dispatcher.reach.figures import campaign_reach
from dispatcher.web.auth import api_user, engine_of

MAX_LIMIT = 1000
UTC_ZONE = ZoneInfo("UTC")
# Module level: FastAPI resolves these string annotations in the module's namespace.
Reader = Annotated[User, Depends(api_user(READ))]


class CampaignSummary(BaseModel):
    id: str
    title: str
    owner: str
    status: str
    version: int
    runs: int
    updated_at: str


class Run(BaseModel):
    id: int
    version: int
    fire_time: str
    status: str


class Version(BaseModel):
    version: int
    created_at: str
    source_path: str | None
    approved_by: str | None


class CampaignDetail(BaseModel):
    id: str
    title: str
    owner: str
    timezone: str
    status: str
    version: int
    versions: list[Version]
    runs: list[Run]
    definition: dict[str, Any]


class Delivery(BaseModel):
    id: int
    updated_at: str
    campaign: str
    run: int
    channel: str
    placement: int
    target: str
    status: str
    reason: str | None
    detail: str | None
    error_code: str | None
    provider_ref: str | None
    attempts: int


class DeliveryPage(BaseModel):
    deliveries: list[Delivery]
    next_cursor: str | None


class ActionResult(BaseModel):
    campaign: str
    action: str
    runs: list[int]
    rows: int
    detail: str


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["api"])

    @router.get("/campaigns", response_model=list[CampaignSummary],
                summary="Campaigns with their lifecycle status")
    def campaigns(request: Request, user: Reader) -> list[dict[str, Any]]:
        return campaign_store.list_campaigns(engine_of(request))

    @router.get("/campaigns/{campaign_id}", response_model=CampaignDetail,
                responses={404: {"description": "No such campaign"}},
                summary="One campaign: versions, approvals, runs, definition")
    def campaign(campaign_id: str, request: Request, user: Reader) -> dict[str, Any]:
        shown = _found(campaign_store.show_campaign, engine_of(request), campaign_id)
        keys = ("versions", "runs", "status", "version", "id", "title", "owner", "timezone")
        return {**{k: shown[k] for k in keys},
                "definition": {k: v for k, v in shown.items() if k not in keys}}

    @router.get("/campaigns/{campaign_id}/runs", response_model=list[Run],
                responses={404: {"description": "No such campaign"}})
    def campaign_runs(campaign_id: str, request: Request, user: Reader) -> list[Any]:
        return list(_found(campaign_store.show_campaign, engine_of(request),
                           campaign_id)["runs"])

    @router.get("/campaigns/{campaign_id}/reach", responses={404: {"description": "No such "
                                                                                 "campaign"}},
                summary="The reach object (DESIGN.md): state counts and figures per channel")
    def reach(campaign_id: str, request: Request, user: Reader) -> dict[str, Any]:
        engine = engine_of(request)
        stored, _ = _found(load_stored, engine, campaign_id)
        lookup = campaign_store.channel_lookup(request.app.state.config)
        found: dict[str, Any] = campaign_reach(engine, stored, lookup)
        return found

    @router.get("/deliveries", response_model=DeliveryPage,
                responses={400: {"description": "A bad filter or cursor"}},
                summary="The delivery log, newest first, one page (keyset cursor)")
    def deliveries(request: Request, user: Reader, campaign: str | None = None,
                   channel: str | None = None, status: str | None = None,
                   target: str | None = None, since: datetime | None = None,
                   until: datetime | None = None, cursor: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100) -> dict[str, Any]:
        try:
            flt = LogFilter(campaign, channel, status, parse_moment(since, "since", UTC_ZONE),
                            parse_moment(until, "until", UTC_ZONE), target)
            after = Cursor.decode(cursor) if cursor else None
            rows, following = page(engine_of(request), flt, limit, after)
        except DispatcherError as exc:
            raise HTTPException(400, str(exc)) from None
        unmask = user.can(UNMASK)
        return {"deliveries": [_delivery(r, unmask) for r in rows],
                "next_cursor": following.encode() if following else None}

    def action(name: str, permission: str, call: Callable[..., Any]) -> None:
        @router.post(f"/campaigns/{{campaign_id}}/{name}", response_model=ActionResult,
                     responses={404: {"description": "No such campaign"},
                                409: {"description": "Not possible in the campaign's state"}},
                     summary=f"{name.capitalize()} the campaign (audit-logged)",
                     name=f"campaign_{name}")
        async def act(campaign_id: str, request: Request,
                      user: User = Depends(api_user(permission))) -> ActionResult:  # noqa: B008
            engine = engine_of(request)
            # approve passes the configured review stages: one call, one stage
            stages = ({"stages": request.app.state.config.review.stages}
                      if name == "approve" else {})
            try:
                done = await run_in_threadpool(call, engine, campaign_id, user.name, **stages)
            except NotFoundError as exc:
                raise HTTPException(404, str(exc)) from None
            except DispatcherError as exc:
                raise HTTPException(409, str(exc)) from None
            return _result(campaign_id, name, done)

    action("approve", APPROVE, lifecycle.approve)
    for name, call in (("pause", runs.pause), ("resume", runs.resume),
                       ("cancel", runs.cancel), ("retry", runs.retry_failed)):
        action(name, OPERATE, call)
    return router


def _found(call: Callable[..., Any], *args: Any) -> Any:
    try:
        return call(*args)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


def _delivery(row: dict[str, Any], unmask: bool) -> dict[str, Any]:
    return display_row(row, UTC_ZONE, unmask)


def _result(campaign_id: str, name: str, done: Any) -> ActionResult:
    if isinstance(done, lifecycle.Approval):
        detail = f"version {done.version} " + (
            "was already approved" if not done.changed else "approved" if done.approved
            else f"passed stage {done.stage}; awaiting {', '.join(done.remaining)}")
        return ActionResult(campaign=campaign_id, action=name, runs=[], rows=0, detail=detail)
    return ActionResult(campaign=campaign_id, action=name, runs=list(done.runs),
                        rows=done.rows, detail=f"{name}: run(s) {done.runs}")
