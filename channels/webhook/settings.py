"""The ``[channels.webhook]`` table: the partner apps' endpoints, each with its own secret
and rate.

```toml
[channels.webhook]
endpoints = { parcel = { url = "http://127.0.0.1:8769/notices", secret = "env:PARCEL_SECRET",
                         rate = 20 } }
timeout = 10
concurrency = 4
```

Secrets stay unrevealed here: a missing environment variable only matters at the first
send to (or acknowledgement from) that endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from channels.base import toml_value
from channels.settings_checks import (
    SecretValue,
    api_base,
    failing,
    integer,
    is_secret,
    known_keys,
    positive_number,
    timeout,
)

CONFIG_KEYS = ("concurrency", "endpoints", "timeout")
_fail = failing("channels.webhook")
ENDPOINT_KEYS = ("rate", "secret", "url")
DEFAULT_RATE = 10.0  # messages per second to one endpoint
EXAMPLE = ('endpoints = { parcel = { url = "https://partner.example/notices", '
           'secret = "env:PARCEL_SECRET", rate = 20 } }')


@dataclass(frozen=True)
class Endpoint:
    """One partner app: where its notices go, the key that signs them both ways, its rate."""

    name: str
    url: str
    secret: SecretValue
    rate: float = DEFAULT_RATE


@dataclass(frozen=True)
class WebhookSettings:
    endpoints: Mapping[str, Endpoint]
    timeout: float = 10.0  # seconds for each POST (connect and read)
    concurrency: int = 4  # POSTs in flight at once, over all endpoints

    @property
    def rate(self) -> float:
        """The channel's rate: the sum of its endpoints' rates."""
        return sum(endpoint.rate for endpoint in self.endpoints.values())


def parse_settings(table: Mapping[str, Any]) -> WebhookSettings:
    """Check every key of ``[channels.webhook]``; the first problem raises ConfigError."""
    known_keys(table, CONFIG_KEYS, _fail)
    raw = table.get("endpoints")
    if not isinstance(raw, Mapping) or not raw:
        wrong = "is required" if raw is None else f"must be a table, got {toml_value(raw)}"
        _fail("endpoints", f"{wrong}: name each partner app, such as {EXAMPLE}")
    endpoints = {str(name): _endpoint(str(name), value) for name, value in raw.items()}
    return WebhookSettings(
        endpoints=endpoints,
        timeout=timeout(table.get("timeout", 10), _fail),
        concurrency=integer(table.get("concurrency", 4), "concurrency", _fail, None))


def _endpoint(name: str, table: Any) -> Endpoint:
    here = f"endpoints.{name}"

    fail = failing(f"channels.webhook.{here}")
    if not name.strip():
        _fail("endpoints", "an endpoint name must not be empty")
    if not isinstance(table, Mapping):
        _fail(here, f"must be a table such as {{ url = ..., secret = ..., rate = 20 }}, "
                    f"got {toml_value(table)}")
    known_keys(table, ENDPOINT_KEYS, fail)
    url = table.get("url")
    if url is None:
        fail("url", 'is required: the partner\'s notice URL, such as '
                    '"https://partner.example/notices"')
    checked = api_base(url, lambda _key, message: fail("url", message),
                       "https://partner.example/notices")
    secret = table.get("secret")
    if not is_secret(secret):
        wrong = "is required" if secret in (None, "") else "must not be written in the file"
        variable = re.sub(r"\W", "_", name).upper() + "_SECRET"
        fail("secret", f'{wrong}: write secret = "env:{variable}" and set that '
                       "environment variable (it signs notices and acknowledgements)")
    rate = positive_number(table.get("rate", DEFAULT_RATE), "rate", fail,
                           "messages per second, such as 20")
    return Endpoint(name=name, url=str(checked), secret=secret, rate=rate)
