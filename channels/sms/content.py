"""What an SMS placement sends, as the approver reviews it before approving.

The body as the phone shows it, who it comes from (the configured sender and the
【signature】 mainland carriers require at the start or the end of the text), its
characters, encoding and segments (counted by :mod:`channels.sms.segments`, the same count
the rate limit and the bill use) and, for a long body, where the network cuts it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from channels.base import ContentFact
from channels.sms.segments import LIMITS, count_segments, split_segments
from channels.sms.settings import Account, SmsSettings, TwilioSettings
from channels.sms.template_placements import preview_params
from channels.sms.templates import count_chars

# 【平安高新】 at the start or the end of the body (the carriers' sender signature).
_SIGNATURE = re.compile(r"^【([^【】]{1,20})】|【([^【】]{1,20})】$")


def signature(body: str) -> str:
    """The 【signature】 of ``body`` without its brackets; "" when it has none."""
    found = _SIGNATURE.search(body.strip())
    return "" if found is None else found.group(1) or found.group(2)


def content_facts(options: Mapping[str, Any], settings: Account | None,
                  default_max_segments: int) -> tuple[ContentFact, ...]:
    """The facts of one validated SMS placement (``body`` is a non-empty string)."""
    body = str(options["body"])
    count = count_segments(body)
    single, part = LIMITS[count.encoding]
    facts = [ContentFact("text", body), *_sender(settings),
             ContentFact("signature", signature(body)),
             ContentFact("characters", len(body)), ContentFact("encoding", count.encoding)]
    if count.units != len(body):  # an emoji, or € and friends in GSM-7, count twice
        facts.append(ContentFact("units", count.units))
    facts += [ContentFact("segments", count.segments),
              ContentFact("single_segment_limit", single), ContentFact("part_limit", part),
              ContentFact("max_segments", int(options.get("max_segments",
                                                          default_max_segments)))]
    if count.segments > 1:
        parts = split_segments(body)
        facts.append(ContentFact("parts", (("part", "characters", "text"), *(
            (number, len(text), text) for number, text in enumerate(parts, start=1)))))
    return tuple(facts)


def template_facts(options: Mapping[str, Any], settings: SmsSettings | None,
                   account: Account | None) -> tuple[ContentFact, ...]:
    """The facts of a domestic template placement: the text rendered as the phone shows
    it (contact fields at sample values), its signature and template, and the count the
    platforms bill (70 characters in one message, 67 per part, signature included)."""
    code = str(options.get("template", ""))
    sign = str(options.get("sign_name") or getattr(account, "sign_name", "") or "")
    facts = [ContentFact("provider", account.provider if account else "?"),
             ContentFact("template_id", code), ContentFact("signature", sign)]
    template = settings.templates.get(code) if settings else None
    if template is None:
        return tuple(facts)
    text = template.render(preview_params(options.get("params", {})))
    counted = count_chars(text, sign)
    return (ContentFact("text", f"【{sign}】{text}"), *facts,
            ContentFact("template_kind", template.kind),
            ContentFact("characters", counted.chars), ContentFact("segments", counted.parts),
            ContentFact("single_segment_limit", 70), ContentFact("part_limit", 67))


def _sender(settings: Account | None) -> list[ContentFact]:
    if not isinstance(settings, TwilioSettings):
        return []
    if settings.sender is not None:
        return [ContentFact("sender", settings.sender)]
    return [ContentFact("messaging_service", str(settings.messaging_service_sid))]
