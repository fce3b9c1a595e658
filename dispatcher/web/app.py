"""The ASGI app served by ``dispatcher serve``: provider webhooks and a health check."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from channels.base import Channel
from dispatcher.config import Config
from dispatcher.web import urls
from dispatcher.web.hooks import hooks_router
from dispatcher.web.signage import signage_router
from dispatcher.web.venues import venues_router

log = logging.getLogger(__name__)


def create_app(engine: Engine, config: Config, channels: Mapping[str, Channel]) -> FastAPI:
    """The web app over ``engine``; ``channels`` as built by ``registry.build_channels``."""
    app = FastAPI(title="Publicity campaign dispatcher", version=_version(),
                  summary="Provider webhooks (delivery receipts, replies) and health.")
    app.state.engine = engine
    app.state.config = config
    app.state.channels = channels
    app.include_router(hooks_router(engine, config, channels))
    app.include_router(signage_router(engine, channels, config.web.public_url))
    app.include_router(venues_router(engine, channels))

    @app.get(urls.HEALTH_PATH, tags=["operations"], summary="Whether the app and database work")
    def healthz() -> JSONResponse:  # a sync def: runs in the threadpool
        database = database_reachable(engine)
        return JSONResponse({"ok": database, "database": database},
                            status_code=200 if database else 503)

    return app


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
