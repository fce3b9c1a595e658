"""What a failed HTTP request to a provider means for the message it carried."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from channels.base import SendResult


def transport_result(delivery_id: int, exc: requests.RequestException) -> SendResult:
    """Certainly not sent (no connection was made): retry. Otherwise the request may have
    reached the provider (read timeout, connection dropped): unknown, to be looked up."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError) or (
            never_connected(exc)):
        return SendResult(delivery_id, "retry", detail=detail)
    return SendResult(delivery_id, "unknown", detail=detail)


def never_connected(exc: requests.RequestException) -> bool:
    """Connection refused or the host not found: requests wraps urllib3's error."""
    if not isinstance(exc, requests.ConnectionError) or not exc.args:
        return False
    reason = exc.args[0].reason if isinstance(exc.args[0], MaxRetryError) else exc.args[0]
    return isinstance(reason, NewConnectionError)


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
