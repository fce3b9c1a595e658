"""Request bodies read only after the caller is authenticated, with a size cap.

:func:`read_capped` refuses a body over ``limit`` bytes (413), by its Content-Length and
by the bytes actually read (a chunked body has no length); :func:`parse_json` answers
anything but UTF-8 JSON with 400, deep nesting included (``json`` raises RecursionError
for 100,000 ``[``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request

_MAX_LENGTH_DIGITS = 15  # a Content-Length longer than this is over any cap


async def read_capped(request: Request, limit: int) -> bytes:
    too_large = HTTPException(413, f"the body is over {limit} bytes; send less at a time")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise HTTPException(400, "Content-Length must be a whole number of bytes")
        if len(declared) > _MAX_LENGTH_DIGITS or int(declared) > limit:
            raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def parse_json(raw: bytes, shape: str) -> Any:
    """``raw`` as JSON; 400 naming the expected ``shape`` when it is not UTF-8 JSON."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise HTTPException(400, f"the body must be JSON in UTF-8: {shape}") from None
    except (ValueError, RecursionError):
        raise HTTPException(400, f"the body is not valid JSON (or nests too deeply): "
                                 f"{shape}") from None
