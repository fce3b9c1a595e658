"""The WeChat sandbox's HTTP face: WeChat's routes and the ``/_sandbox/`` test routes.

Every WeChat route answers HTTP 200 with JSON, errors included (``errcode``/``errmsg``),
as WeChat does. Every route but the token's needs ``?access_token=``; bodies are JSON,
read whatever the Content-Type (wechatpy posts JSON bytes without one).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dispatcher.sandbox.wechat.stats import MAX_SPAN
from dispatcher.sandbox.wechat.wire import Refused

if TYPE_CHECKING:
    from dispatcher.sandbox.wechat.server import WeChatSandbox

PAGE_SIZE = 10_000  # openids per page of user/get and user/tag/get, as WeChat pages them
Handler = Callable[[Request], Awaitable[Response]]


def build_app(sandbox: WeChatSandbox) -> Starlette:
    api = _Api(sandbox)
    routes = [
        Route("/cgi-bin/token", api.token, methods=["GET"]),
        Route("/cgi-bin/user/get", api.call(api.followers), methods=["GET"]),
        Route("/cgi-bin/tags/get", api.call(api.tags), methods=["GET"]),
        Route("/cgi-bin/user/tag/get", api.call(api.tag_members), methods=["POST"]),
        Route("/cgi-bin/message/mass/sendall", api.call(api.sendall), methods=["POST"]),
        Route("/cgi-bin/message/mass/send", api.call(api.send), methods=["POST"]),
        Route("/cgi-bin/message/mass/preview", api.call(api.preview), methods=["POST"]),
        Route("/cgi-bin/message/mass/get", api.call(api.mass_get), methods=["POST"]),
        Route("/cgi-bin/message/template/send", api.call(api.template), methods=["POST"]),
        *[Route(f"/datacube/{name}", api.call(api.datacube(name)), methods=["POST"])
          for name in MAX_SPAN],
        Route("/_sandbox/stats", api.sandbox_stats, methods=["GET"]),
        Route("/_sandbox/jobs", api.sandbox_jobs, methods=["GET"]),
        Route("/_sandbox/previews", api.sandbox_previews, methods=["GET"]),
        Route("/_sandbox/templates", api.sandbox_templates, methods=["GET"]),
        Route("/_sandbox/testers", api.sandbox_testers, methods=["GET"]),
        Route("/_sandbox/advance_days", api.sandbox_advance, methods=["POST"]),
        Route("/_sandbox/reset", api.sandbox_reset, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox
    return app


Action = Callable[[Request, Mapping[str, Any]], dict[str, Any]]


class _Api:
    def __init__(self, sandbox: WeChatSandbox) -> None:
        self.sandbox = sandbox

    async def token(self, request: Request) -> Response:
        try:
            return JSONResponse(self.sandbox.fetch_token(dict(request.query_params)))
        except Refused as refused:
            return self._refused(refused)

    def call(self, action: Action) -> Handler:
        """An authenticated route: check the access token, read the JSON body of a POST,
        run ``action``; a :class:`Refused` becomes WeChat's errcode answer."""

        async def handle(request: Request) -> Response:
            try:
                self.sandbox.authenticate(request.query_params.get("access_token", ""))
                body = await _json(request) if request.method == "POST" else {}
                return JSONResponse(action(request, body))
            except Refused as refused:
                return self._refused(refused)

        return handle

    def _refused(self, refused: Refused) -> Response:
        self.sandbox.store.count(f"rejected.{refused.errcode}")
        return JSONResponse(refused.answer())

    def followers(self, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
        followers = self.sandbox.followers
        return _page(followers.openids, request.query_params.get("next_openid") or None,
                     followers.page)

    def tags(self, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
        followers = self.sandbox.followers
        return {"tags": [{"id": tag_id, "name": name, "count": len(followers.tags[tag_id])}
                         for tag_id, name in followers.tag_names.items()]}

    def tag_members(self, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
        tag_id = body.get("tagid")
        members = self.sandbox.followers.tags.get(tag_id) if isinstance(tag_id, int) else None
        if members is None:
            raise Refused(40050, f"no tagid {tag_id!r}")
        answer = _page(members, body.get("next_openid") or None, self.sandbox.followers.page)
        del answer["total"]  # WeChat's tag member pages have no total
        return answer

    def sendall(self, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.sandbox.mass_send("sendall", body)

    def send(self, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.sandbox.mass_send("send", body)

    def preview(self, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.sandbox.preview(body)

    def mass_get(self, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.sandbox.mass_status(body)

    def template(self, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.sandbox.template_send(body)

    def datacube(self, name: str) -> Action:
        def report(request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
            return self.sandbox.datacube(name, body)

        return report

    async def sandbox_stats(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.stats())

    async def sandbox_jobs(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.jobs())

    async def sandbox_previews(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.previews())

    async def sandbox_templates(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.template_sends())

    async def sandbox_testers(self, request: Request) -> Response:
        """The WeChat ids previews accept (``towxname``) and their openids."""
        return JSONResponse(self.sandbox.followers.wxnames)

    async def sandbox_advance(self, request: Request) -> Response:
        """``{"days": n}``: move the sandbox's today n days forward."""
        try:
            days = (await _json(request)).get("days", 1)
        except Refused as refused:
            return JSONResponse(refused.answer(), 400)
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            return JSONResponse({"error": "days must be a whole number, 0 or more"}, 400)
        return JSONResponse({"today": self.sandbox.advance_days(days).isoformat()})

    async def sandbox_reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return JSONResponse({"reset": True})


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise Refused(44002, "the body must be a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Refused(47001, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused(47001, "the body must be a JSON object")
    return body


def _page(pool: tuple[str, ...], after: str | None,
          page: Callable[[tuple[str, ...], str | None, int], list[str]]) -> dict[str, Any]:
    """One page of openids as WeChat pages them: ``next_openid`` is the page's last openid
    (also on the last page); a page after the end has count 0 and no ``data``."""
    try:
        found = page(pool, after, PAGE_SIZE)
    except (KeyError, ValueError):
        raise Refused(40003, f"next_openid {after!r} is not in the list") from None
    answer: dict[str, Any] = {"total": len(pool), "count": len(found),
                              "next_openid": found[-1] if found else ""}
    if found:
        answer["data"] = {"openid": found}
    return answer
