"""WeChat's XML bodies, read safely: a bounded size, UTF-8, no DTD, no entities.

Every body an event push carries (the outer ``<xml><Encrypt/></xml>`` of safe mode and
the event inside it, or the plain event) is read here with defusedxml and nothing else:
wechatpy parses with xmltodict, which only refuses entity declarations and raises
``ValueError`` on them, so no untrusted text reaches it. WeChat never sends a DTD, so one
(a billion laughs, an external entity) is refused outright. Problems raise
:class:`~channels.base.MalformedRequest` (400): callers check the signature first.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from channels.base import MalformedRequest

# WeChat's events are a few hundred bytes (a news job with copyright results, a few KB).
MAX_BODY_BYTES = 64 * 1024


def body_text(body: bytes) -> str:
    """The request body as text: at most ``MAX_BODY_BYTES``, UTF-8 as WeChat sends."""
    if len(body) > MAX_BODY_BYTES:
        raise MalformedRequest(f"the body is {len(body):,} bytes; WeChat's events are at "
                               f"most {MAX_BODY_BYTES:,}")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequest(f"the body is not UTF-8 (byte {exc.start} is "
                               f"0x{body[exc.start]:02x})") from None


def xml_fields(text: str, what: str) -> dict[str, str]:
    """The text of each child of ``<xml>`` in ``text``, by tag (nested elements such as
    CopyrightCheckResult give ""). ``what`` names the document in errors."""
    try:
        root: ET.Element = fromstring(text, forbid_dtd=True)
    except DefusedXmlException:
        raise MalformedRequest(f"{what} declares a DTD or entities, which WeChat never "
                               "sends") from None
    except ET.ParseError as exc:
        raise MalformedRequest(f"{what} is not well-formed XML ({exc})") from None
    if root.tag != "xml":
        raise MalformedRequest(f"{what} must be an <xml> document, not <{root.tag[:40]}>")
    fields: dict[str, str] = {}
    for child in root:
        if child.tag in fields:
            raise MalformedRequest(f"{what} has <{child.tag[:40]}> twice")
        fields[child.tag] = child.text or ""
    return fields
