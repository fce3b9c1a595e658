"""Checking a request's ACS3-HMAC-SHA256 signature, recomputed as Aliyun does.

The 4.x SDK (``alibabacloud_tea_openapi.utils.Utils.get_authorization``) signs::

    POST \\n / \\n canonical query \\n canonical headers \\n signed header names \\n
    hex sha256 of the body

where the canonical query is the sorted ``key=quote(value, safe="~")`` pairs, and the
canonical headers are ``name:value`` lines (lower-case names, stripped values) of every
header it set, x-acs-* and host among them. The string to sign is
``"ACS3-HMAC-SHA256\\n" + hex sha256(canonical request)`` and the signature its hex
HMAC-SHA256 with the AccessKey secret. The sandbox recomputes it from the request as
received (the body's own hash, not the header's claim), then refuses a stale
``x-acs-date`` and a reused ``x-acs-signature-nonce``, with Aliyun's codes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from dispatcher.sandbox.aliyun.wire import Outcome, answer

ALGORITHM = "ACS3-HMAC-SHA256"
REQUIRED_HEADERS = frozenset({"host", "x-acs-action", "x-acs-version", "x-acs-date",
                              "x-acs-signature-nonce", "x-acs-content-sha256"})
_AUTHORIZATION = re.compile(
    rf"{ALGORITHM} Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)")

# The request as received: method, path, raw query string, each header's values, body.
HeaderValues = Callable[[str], Sequence[str]]


def canonical_query(raw_query: str) -> str:
    pairs = dict(parse_qsl(raw_query, keep_blank_values=True))
    return "&".join(f"{key}={quote(pairs[key], safe='~')}" for key in sorted(pairs))


def canonical_request(method: str, path: str, raw_query: str, names: Sequence[str],
                      header: HeaderValues, body: bytes) -> str:
    lines = "".join(f"{name}:{','.join(sorted(v.strip() for v in header(name)))}\n"
                    for name in sorted(names))
    return "\n".join([method, path or "/", canonical_query(raw_query), lines,
                      ";".join(sorted(names)), hashlib.sha256(body).hexdigest()])


def signature(secret: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), f"{ALGORITHM}\n{digest}".encode(),
                    hashlib.sha256).hexdigest()


class Verifier:
    """Checks requests against one AccessKey pair; remembers nonces while they are fresh."""

    def __init__(self, key_id: str, secret: str, max_skew_s: float) -> None:
        self.key_id, self._secret, self.max_skew_s = key_id, secret, max_skew_s
        self._nonces: dict[str, float] = {}  # nonce -> monotonic time it may be forgotten
        self._lock = threading.Lock()

    def refusal(self, method: str, path: str, raw_query: str, headers: Mapping[str, str],
                header: HeaderValues, body: bytes) -> Outcome | None:
        """Aliyun's answer refusing the request, or None when it is authentic and fresh.
        ``headers`` has lower-case names (one value each), ``header`` all values."""
        found = _AUTHORIZATION.fullmatch(headers.get("authorization", "").strip())
        if found is None:
            return answer("IncompleteSignature")
        key_id, signed, given = found.groups()
        names = signed.split(";")
        if not hmac.compare_digest(key_id.encode(), self.key_id.encode()):
            return answer("InvalidAccessKeyId.NotFound")
        if not set(names) >= REQUIRED_HEADERS:
            return answer("IncompleteSignature")
        if not self._fresh(headers.get("x-acs-date", "")):
            return answer("InvalidTimeStamp.Expired")
        expected = signature(self._secret, canonical_request(method, path, raw_query, names,
                                                             header, body))
        if not hmac.compare_digest(expected, given):
            return answer("SignatureDoesNotMatch")
        if not self._first_use(headers.get("x-acs-signature-nonce", "")):
            return answer("SignatureNonceUsed")
        return None

    def forget(self) -> None:
        with self._lock:
            self._nonces.clear()

    def _fresh(self, stamp: str) -> bool:
        try:
            moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return False
        return abs((datetime.now(UTC) - moment).total_seconds()) <= self.max_skew_s

    def _first_use(self, nonce: str) -> bool:
        """Record ``nonce``; False when it was seen within twice the allowed skew (an
        older one would come with a stale date anyway)."""
        now = time.monotonic()
        with self._lock:
            if len(self._nonces) > 100_000:
                self._nonces = {n: t for n, t in self._nonces.items() if t > now}
            if not nonce or self._nonces.get(nonce, 0.0) > now:
                return False
            self._nonces[nonce] = now + 2 * self.max_skew_s
            return True
