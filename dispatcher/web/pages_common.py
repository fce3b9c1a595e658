"""What every server-rendered page shares: the templates and the page context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dispatcher.users import User
from dispatcher.web.auth import csrf_token

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Jinja2Templates escapes HTML by default (autoescape for .html): user text never runs.


def render(request: Request, template: str, user: User | None, status_code: int = 200,
           **values: Any) -> HTMLResponse:
    context = {"user": user, "csrf": csrf_token(request), **values}
    response: HTMLResponse = TEMPLATES.TemplateResponse(request, template, context,
                                                        status_code=status_code)
    return response


def safe_next(path: str | None) -> str:
    """Only local paths after login: never an open redirect to another site."""
    if not path or not path.startswith("/") or path.startswith("//"):
        return "/campaigns"
    return path
