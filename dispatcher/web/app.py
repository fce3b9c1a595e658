"""The ASGI app served by ``dispatcher serve``: provider webhooks and a health check."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.sessions import SessionMiddleware

from channels.base import Channel
from dispatcher.config import Config
from dispatcher.delivery import callback_urls as urls
from dispatcher.web.api import api_router
from dispatcher.web.auth import LoginRequired
from dispatcher.web.body_limit import BodyLimit
from dispatcher.web.docs import install_docs
from dispatcher.web.hooks import hooks_router
from dispatcher.web.language import LocaleMiddleware, language_router
from dispatcher.web.login import login_router
from dispatcher.web.metrics import metrics_router
from dispatcher.web.not_found import not_found
from dispatcher.web.pages.router import pages_router
from dispatcher.web.signage import signage_router
from dispatcher.web.venues import venues_router

log = logging.getLogger(__name__)

# Request bodies are refused with 413 past these sizes, before they are read whole (see
# dispatcher.web.body_limit). A provider's callback, a login or a dashboard form is a few
# kilobytes; a screen's proof of play or a cinema's play log of up to 5,000 records stays
# well under 4 MiB.
MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024


def create_app(engine: Engine, config: Config, channels: Mapping[str, Channel]) -> FastAPI:
    """The web app over ``engine``; ``channels`` as built by ``registry.build_channels``."""
    app = FastAPI(title="Publicity campaign dispatcher", version=_version(),
                  summary="The operators' dashboard, the REST API (/api, API tokens), "
                          "provider webhooks and health.",
                  docs_url=None, redoc_url=None)  # install_docs: no CDN
    app.state.engine = engine
    app.state.config = config
    app.state.channels = channels
    secret = config.web.session_secret.reveal() if config.web.session_secret else None
    if secret is None:
        log.warning("web.session_secret is not set: sessions are signed with a random key "
                    "and end when the app restarts")
    app.add_middleware(LocaleMiddleware, default=config.web.locale)  # inside the session
    app.add_middleware(SessionMiddleware, secret_key=secret or secrets.token_urlsafe(32),
                       session_cookie="dispatcher_session", same_site="strict",
                       https_only=config.web.public_url.startswith("https://"),
                       max_age=12 * 3600)
    app.add_middleware(BodyLimit, default=MAX_BODY_BYTES,  # outermost: before sessions
                       caps={_path_pattern(urls.POP_PATH): MAX_BATCH_BODY_BYTES,
                             _path_pattern(urls.PLAYLOG_PATH): MAX_BATCH_BODY_BYTES})

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    app.add_exception_handler(404, not_found)  # a page for browsers, JSON for programs
    install_docs(app)  # /docs and /redoc with their assets served here

    app.include_router(login_router())
    app.include_router(language_router())
    app.include_router(pages_router())  # the dashboard: /campaigns, /logs, /screens, /cinemas
    app.include_router(api_router())
    app.include_router(hooks_router(engine, config, channels))
    app.include_router(signage_router(engine, channels, config.web.public_url))
    app.include_router(venues_router(engine, channels))
    app.include_router(metrics_router(engine))

    @app.get(urls.HEALTH_PATH, tags=["operations"], summary="Whether the app and database work")
    def healthz() -> JSONResponse:  # a sync def: runs in the threadpool
        database = database_reachable(engine)
        return JSONResponse({"ok": database, "database": database},
                            status_code=200 if database else 503)

    return app


def _path_pattern(template: str) -> str:
    """``/hooks/{channel}/pop`` as a regular expression over request paths."""
    return re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))


def database_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("database unreachable: %s", exc)
        return False
    return True


def _version() -> str:
    try:
        return version("publicity-dispatcher")
    except PackageNotFoundError:
        return "unknown"
