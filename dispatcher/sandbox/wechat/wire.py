"""WeChat's wire formats: errcode answers and the checks of mass-send and template bodies.

WeChat answers every API call with HTTP 200 and JSON; a failure carries a non-zero
``errcode`` and an ``errmsg``. The sandbox adds what was wrong as ``hint: [...]``, the
place where WeChat puts its request id.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from dispatcher.sandbox.wechat.options import WeChatOptions

MASS_MSGTYPES = ("text", "mpnews", "image")
MIN_OPENIDS, MAX_OPENIDS = 2, 10_000
MAX_CLIENTMSGID_BYTES = 64

ERRMSGS: Mapping[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40037: "invalid template_id",
    40050: "invalid tag_id",
    40097: "invalid args",
    40125: "invalid appsecret",
    40130: "invalid openid list size, at least two openid",
    40132: "invalid username",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45028: "has no masssend quota",
    45065: "clientmsgid exist",
    47001: "data format error",
    61500: "date format error",
    61501: "date range error",
}


class Refused(Exception):
    """A request WeChat would answer with ``errcode``; ``extra`` joins the answer."""

    def __init__(self, errcode: int, detail: str | None = None, **extra: Any) -> None:
        super().__init__(errcode, detail)
        self.errcode, self.detail, self.extra = errcode, detail, extra

    def answer(self) -> dict[str, Any]:
        return error(self.errcode, self.detail) | self.extra


def error(errcode: int, detail: str | None = None) -> dict[str, Any]:
    message = ERRMSGS.get(errcode, "error")
    return {"errcode": errcode, "errmsg": f"{message} hint: [{detail}]" if detail else message}


@dataclass(frozen=True)
class Content:
    """What a mass send or preview sends."""

    msgtype: str
    media_id: str | None
    titles: tuple[str, ...]  # mpnews: its articles' titles


def content(body: Mapping[str, Any], options: WeChatOptions) -> Content:
    """``text.content``, ``mpnews.media_id`` or ``image.media_id`` (also the newer
    ``images.media_ids``); the media must be one the sandbox knows (40007)."""
    msgtype = body.get("msgtype")
    if msgtype not in MASS_MSGTYPES:
        raise Refused(40008, f"msgtype {msgtype!r}: the sandbox sends "
                             f"{', '.join(MASS_MSGTYPES)}")
    if msgtype == "text":
        if not _text(body):
            raise Refused(47001, "text.content must be a non-empty string")
        return Content("text", None, ())
    media_id = _media_id(body, msgtype)
    if media_id is not None and msgtype == "mpnews" and media_id in options.news:
        return Content("mpnews", media_id, options.news[media_id])
    if media_id is not None and msgtype == "image" and media_id in options.images:
        return Content("image", media_id, ())
    raise Refused(40007, f"no {msgtype} media {media_id!r}")


def _text(body: Mapping[str, Any]) -> bool:
    text = body.get("text")
    return isinstance(text, dict) and isinstance(text.get("content"), str) and bool(
        text["content"].strip())


def _media_id(body: Mapping[str, Any], msgtype: str) -> str | None:
    part, images = body.get(msgtype), body.get("images")
    value = part.get("media_id") if isinstance(part, dict) else None
    if value is None and msgtype == "image" and isinstance(images, dict):
        ids = images.get("media_ids")  # the newer shape: one image a message here
        value = ids[0] if isinstance(ids, list) and len(ids) == 1 else None
    return value if isinstance(value, str) else None


def tag_filter(body: Mapping[str, Any], tags: Mapping[int, object]) -> int | None:
    """The tag a ``sendall`` goes to, None for all followers. wechatpy 1.8's
    ``filter.group_id`` is refused (47001), so an old client fails visibly."""
    found = body.get("filter")
    if not isinstance(found, dict):
        raise Refused(47001, "filter must be an object: {\"is_to_all\": bool, \"tag_id\": n}")
    if "group_id" in found:
        raise Refused(47001, "filter.group_id is the old shape: send filter.tag_id "
                             "(wechatpy's send_mass_* write group_id; use client.post)")
    to_all = found.get("is_to_all", False)
    if not isinstance(to_all, bool):
        raise Refused(47001, "filter.is_to_all must be true or false")
    if to_all:
        return None
    tag_id = found.get("tag_id")
    if isinstance(tag_id, str) and tag_id.isdigit():
        tag_id = int(tag_id)
    if not isinstance(tag_id, int) or isinstance(tag_id, bool) or tag_id not in tags:
        raise Refused(40050, f"no tag_id {tag_id!r}")
    return tag_id


def openid_list(body: Mapping[str, Any]) -> list[str]:
    """``touser`` of a ``send``: 2 to 10,000 openids (40130), duplicates dropped."""
    touser = body.get("touser")
    if not isinstance(touser, list) or not all(isinstance(o, str) for o in touser):
        raise Refused(47001, "touser must be a list of openids")
    if not MIN_OPENIDS <= len(touser) <= MAX_OPENIDS:
        raise Refused(40130, f"touser has {len(touser)} openids; "
                             f"send {MIN_OPENIDS} to {MAX_OPENIDS}")
    return list(dict.fromkeys(touser))


def clientmsgid(body: Mapping[str, Any]) -> str | None:
    value = body.get("clientmsgid")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value.encode()) > MAX_CLIENTMSGID_BYTES:
        raise Refused(40097, f"clientmsgid must be a string of at most "
                             f"{MAX_CLIENTMSGID_BYTES} bytes")
    return value


@dataclass(frozen=True)
class TemplateRequest:
    touser: str
    template_id: str
    url: str | None


def template_request(body: Mapping[str, Any], options: WeChatOptions,
                     followers: Container[str]) -> TemplateRequest:
    """``touser`` (a follower: 43004), ``template_id`` (known: 40037), ``data`` (object)."""
    touser, template_id = body.get("touser"), body.get("template_id")
    if not isinstance(touser, str) or not touser:
        raise Refused(40003, "touser must be an openid")
    if template_id not in options.templates:
        raise Refused(40037, f"no template {template_id!r}")
    if not isinstance(body.get("data"), dict):
        raise Refused(47001, "data must be an object of template fields")
    url = body.get("url")
    if url is not None and not isinstance(url, str):
        raise Refused(47001, "url must be a string")
    if touser not in followers:
        raise Refused(43004, f"{touser} does not follow the account")
    return TemplateRequest(touser, str(template_id), url)
