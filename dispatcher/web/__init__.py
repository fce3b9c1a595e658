"""The web app (``dispatcher serve``): provider webhooks and a health check.

``create_app`` is imported lazily, so that importing :mod:`dispatcher.web.urls` (as the
engine does to build callback URLs) does not import FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dispatcher.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from dispatcher.web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
