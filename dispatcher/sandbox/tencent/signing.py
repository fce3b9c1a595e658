"""TC3-HMAC-SHA256 checked on the server, recomputed from the request as it arrived.

The canonical request is the one ``tencentcloud.common.abstract_client`` signs
(``_get_tc3_signature``): method, path, query string (GET only), the signed headers'
``name:value`` lines as sent, their names, and the SHA-256 of the body (or of
``UNSIGNED-PAYLOAD`` when ``X-TC-Content-SHA256`` says so). The key is derived from the
secret key, the UTC date of ``X-TC-Timestamp`` and the service (``sms``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "sms"
UNSIGNED = "UNSIGNED-PAYLOAD"
_AUTH = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/,\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/,\s]+)"
    r"/tc3_request,\s*SignedHeaders=(?P<headers>[a-z0-9\-;]+),\s*Signature=(?P<sig>[0-9a-f]{64})")


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers: ``headers`` with lower-case names, ``body`` as bytes."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


def signature(secret_key: str, request: SignedRequest, signed_headers: list[str],
              timestamp: str, date: str, service: str = SERVICE) -> str:
    """The hex signature the SDK computes for ``request``."""
    payload = UNSIGNED.encode() if request.headers.get(
        "x-tc-content-sha256") == UNSIGNED else request.body
    lines = "".join(f"{name}:{request.headers.get(name, '')}\n" for name in signed_headers)
    canonical = "\n".join([request.method, request.path,
                           request.query if request.method == "GET" else "", lines,
                           ";".join(signed_headers), hashlib.sha256(payload).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join([ALGORITHM, timestamp, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("TC3" + secret_key).encode(), date)
    key = _hmac(_hmac(key, service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def refusal(request: SignedRequest, secret_id: str, secret_key: str, now: float,
            ttl_s: float) -> str | None:
    """The AuthFailure code refusing ``request``, or None when it is signed right."""
    found = _AUTH.fullmatch(request.headers.get("authorization", "").strip())
    timestamp = request.headers.get("x-tc-timestamp", "")
    if found is None or not timestamp.isdigit():
        return "AuthFailure.InvalidAuthorization"
    signed = found["headers"].split(";")
    if not {"content-type", "host"} <= set(signed):
        return "AuthFailure.InvalidAuthorization"
    if not hmac.compare_digest(found["id"].encode(), secret_id.encode()):
        return "AuthFailure.SecretIdNotFound"
    if abs(now - int(timestamp)) > ttl_s:
        return "AuthFailure.SignatureExpire"
    date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    expected = signature(secret_key, request, signed, timestamp, date)
    if (found["date"] != date or found["service"] != SERVICE
            or not hmac.compare_digest(expected, found["sig"])):
        return "AuthFailure.SignatureFailure"
    return None


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
