"""The partner-app wire format: signed JSON both ways.

A notice, ``POST {endpoint url}``::

    {"id": "<delivery id>", "recipient": "+86...", "message": "...", "callback_url": "..."}

and an acknowledgement, ``POST {callback_url}``::

    {"id": "<delivery id>", "status": "delivered" | "failed", "error": "...",
     "endpoint": "<optional endpoint name>"}

each with ``X-Dispatcher-Timestamp: <unix seconds>`` and ``X-Dispatcher-Signature:
sha256=<hex HMAC-SHA256 of "{timestamp}.{raw body}">`` keyed with the endpoint's secret.
The timestamp is signed too, so a captured request cannot be replayed after
:data:`MAX_AGE` seconds; within that window a replay is harmless (the partner dedupes
notices by id, and a repeated acknowledgement changes no row).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from channels.base import CallbackRequest, MalformedRequest, Message, Receipt, SignatureError
from channels.delivery_ids import DELIVERY_PARAM, parse_delivery_id, shown

TIMESTAMP_HEADER = "X-Dispatcher-Timestamp"
SIGNATURE_HEADER = "X-Dispatcher-Signature"
SCHEME = "sha256="
MAX_AGE = 300  # seconds an acknowledgement's timestamp may differ from our clock
REF_PREFIX = "webhook-"  # provider_ref of an accepted notice: "webhook-<delivery id>"
MAX_DETAIL = 500  # characters of the partner's error kept in the row's detail
# The partner's acknowledgement statuses as our delivery states: a notice the partner
# took but could not show is undelivered (it reached the provider, not the person).
ACK_STATES: Mapping[str, Literal["delivered", "undelivered"]] = {
    "delivered": "delivered", "failed": "undelivered"}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``"{timestamp}.{body}"`` keyed with ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SCHEME + digest.hexdigest()


def signed_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret, timestamp, body)}


def notice_body(message: Message) -> bytes:
    """The JSON body of one notice; exactly these bytes are signed and sent."""
    return json.dumps({"id": str(message.delivery_id), "recipient": message.address,
                       "message": str(message.placement.options["message"]),
                       "callback_url": message.callback_url},
                      ensure_ascii=False, separators=(",", ":")).encode()


def provider_ref(delivery_id: int | str) -> str:
    return f"{REF_PREFIX}{delivery_id}"


def verified_ack(secrets: Mapping[str, str], request: CallbackRequest,
                 now: float) -> tuple[Mapping[str, Any], str | None]:
    """The acknowledgement's JSON object, once its signature and timestamp are checked,
    and the endpoint that signed it (None when several endpoints share the secret).

    ``secrets`` maps endpoint names to their secrets; each is tried (an acknowledgement
    names no endpoint by default), and a body naming an ``endpoint`` must be signed with
    that endpoint's. The body is parsed only once a secret matched. SignatureError for
    anything that is not a fresh request signed by one of them; MalformedRequest for a
    signed body that is not a JSON object.
    """
    if not request.body:
        raise SignatureError("expected a signed JSON body (Content-Type: application/json)")
    timestamp = _header(request.headers, TIMESTAMP_HEADER) or ""
    given = _header(request.headers, SIGNATURE_HEADER) or ""
    if not _fresh(timestamp, now):
        raise SignatureError(f"{TIMESTAMP_HEADER} is missing or more than {MAX_AGE} s "
                             "away from our clock")
    signers = {name for name, secret in secrets.items() if given.startswith(SCHEME)
               and hmac.compare_digest(signature(secret, timestamp, request.body), given)}
    if not signers:
        raise SignatureError(f"{SIGNATURE_HEADER} is missing or does not match")
    ack = _json_object(request.body)
    named = ack.get("endpoint")
    if isinstance(named, str) and named not in secrets:
        raise SignatureError(f"no endpoint named {shown(named)} is configured")
    if isinstance(named, str) and named not in signers:
        raise SignatureError(f"{SIGNATURE_HEADER} does not match endpoint {shown(named)}'s "
                             "secret")
    _check_row(ack, request.url)
    if isinstance(named, str):
        return ack, named
    return ack, next(iter(signers)) if len(signers) == 1 else None


def receipts_from(ack: Mapping[str, Any], signer: str | None = None) -> list[Receipt]:
    """The acknowledgement as a receipt; none for a status we do not track. ``signer``:
    the endpoint whose secret signed it (only that endpoint's rows may move).

    MalformedRequest when the status is one we track but the id names no row we could
    have sent (not a delivery id).
    """
    state = ACK_STATES.get(str(ack.get("status", "")))
    if state is None:
        return []
    ident = ack.get("id")
    delivery_id = parse_delivery_id(ident if isinstance(ident, str) else repr(ident),
                                    'the acknowledgement\'s "id"')
    error = ack.get("error")
    detail = f"partner: {error}" if error else f"partner {ack['status']}"
    code = None if state == "delivered" else "partner_failed"
    return [Receipt(provider_ref=provider_ref(delivery_id), state=state,
                    delivery_id=delivery_id, code=code, detail=detail[:MAX_DETAIL],
                    signer=signer)]


def _check_row(ack: Mapping[str, Any], url: str) -> None:
    """The URL's ``d`` is not signed; a signed body must not be replayed to another row."""
    query = parse_qs(urlsplit(url).query).get(DELIVERY_PARAM, [""])[0]
    if query and query != str(ack.get("id", "")):
        raise SignatureError(f"the callback URL's {DELIVERY_PARAM}={shown(query)} is not "
                             "the signed id")


def _fresh(timestamp: str, now: float) -> bool:
    """Unix seconds in ASCII digits, at most :data:`MAX_AGE` from ``now`` (never ``int``
    of 5,000 digits: Python refuses to convert that many)."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    return abs(now - int(timestamp)) <= MAX_AGE


def _json_object(body: bytes) -> dict[str, Any]:
    """The signed body as a JSON object; MalformedRequest for anything else (not UTF-8,
    not JSON, nested too deep, a number too long to convert, not an object)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise MalformedRequest(f"the signed body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(value, dict):
        raise MalformedRequest("the signed body must be a JSON object, got "
                               f"{type(value).__name__}")
    return value


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)
