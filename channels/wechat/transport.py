"""Pointing a ``wechatpy.WeChatClient`` at another base URL (the sandbox, a proxy).

wechatpy 1.8 builds its URLs from three places: ``WeChatClient.API_BASE_URL``
(``https://api.weixin.qq.com/cgi-bin/``), the token URL hard-coded in
``fetch_access_token`` and each API group's own ``API_BASE_URL`` (datacube:
``https://api.weixin.qq.com/datacube/``). All of them go through the client's
``requests.Session`` (``client._http``), so one transport adapter mounted there for
``https://api.weixin.qq.com/`` moves every call, whatever the API group.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import DEFAULT_POOLSIZE, HTTPAdapter
from requests.utils import get_environ_proxies
from wechatpy import WeChatClient

from channels.http_pool import pool_options

WECHAT_API = "https://api.weixin.qq.com/"


class TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout: wechatpy 1.8 fetches tokens with none at all."""

    def __init__(self, timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_timeout = timeout

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: bool | str = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        return super().send(request, stream=stream, verify=verify, cert=cert,
                            timeout=self.default_timeout if timeout is None else timeout,
                            proxies=proxies)


class RewriteAdapter(TimeoutAdapter):
    """Sends each request to ``api_base``: scheme, host and port replaced, ``api_base``'s
    path put in front of the request's path, query kept.

    Proxies are chosen again for the new URL (requests chose them for the original host):
    none for a loopback base, otherwise the environment's.
    """

    def __init__(self, api_base: str, timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(timeout, **kwargs)
        self.base = urlsplit(api_base.rstrip("/"))
        if self.base.scheme not in ("http", "https") or not self.base.netloc:
            raise ValueError(f"api_base must be an http(s) URL, got {api_base!r}")

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        return urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path,
                           parts.query, parts.fragment))

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: bool | str = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        request.url = self.rewrite(request.url or "")
        return super().send(request, stream=stream, timeout=timeout, verify=verify,
                            cert=cert, proxies=self._proxies(request.url))

    def _proxies(self, url: str) -> dict[str, str]:
        if _is_loopback(self.base.hostname or ""):
            return {}
        return dict(get_environ_proxies(url))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def route_client(client: WeChatClient, api_base: str | None,
                 timeout: float | None = None, concurrency: int = DEFAULT_POOLSIZE) -> None:
    """Send every call of a ``wechatpy`` client to ``api_base`` (its token fetch and
    statistics included), or to WeChat itself when None; either way with ``timeout``
    for calls that set none, through a pool of ``concurrency`` connections
    (``channels.http_pool``)."""
    session: requests.Session = client._http
    pool = pool_options(concurrency)
    adapter = (TimeoutAdapter(timeout, **pool) if api_base is None
               else RewriteAdapter(api_base, timeout, **pool))
    session.mount(WECHAT_API, adapter)
