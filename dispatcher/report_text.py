"""The report's summary paragraph, in Chinese and in English, in the drive's own style.

"短信 320萬條次 ... 影院映前廣告 500餘場次、觀眾 10萬餘人次": each figure from the reach
object, gross counts labelled as such (條次, 人次; "gross" in English), derived figures
marked as estimates, and each numbered to a footnote with its source and method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# (channel, metric, Chinese label, Chinese unit, English label, English unit)
PHRASES = (
    ("sms", "message_times", "短信", "條次", "SMS", "message-times"),
    ("wechat", "recipients", "微信公眾號推送", "人次", "WeChat official-account deliveries",
     "recipient-times"),
    ("wechat", "reads", "閱讀", "次", "article reads", "reads"),
    ("webhook", "message_times", "合作應用消息", "條次", "partner-app notices",
     "message-times"),
    ("led", "screens", "LED屏", "塊", "LED screens", "screens"),
    ("led", "plays", "播放", "次", "plays", "plays"),
    ("led", "impressions", "估算觀看", "人次", "estimated impressions", "impressions"),
    ("cinema", "screenings", "影院映前廣告", "場次", "cinema pre-show spots", "screenings"),
    ("cinema", "admissions", "觀眾", "人次", "admissions", "admissions"),
)
MANUAL_ZH = {"posters": ("海報", "張"), "notice_sets": ("通告", "套"), "boards": ("展板", "塊"),
             "brochures": ("宣傳冊", "份"), "talks": ("宣講", "場")}


@dataclass(frozen=True)
class Figure:
    channel: str
    metric: str
    value: int
    source: str
    method: str
    zh: str
    en: str


def zh_amount(value: int) -> str:
    """320萬 (exact), 10萬餘 (more than 10萬), 500餘, 87."""
    if value >= 10_000:
        return f"{value // 10_000}萬" + ("餘" if value % 10_000 else "")
    if value >= 100:
        return f"{value // 100 * 100}" + ("餘" if value % 100 else "")
    return str(value)


def figures(reach: dict[str, Any]) -> list[Figure]:
    """The figures to state, in the drive's order, with their footnote data."""
    found = []
    channels = reach["channels"]
    for channel, metric, zh_label, zh_unit, en_label, en_unit in PHRASES:
        data = channels.get(channel)
        if data is None or metric not in data["reach"]:
            continue
        value = int(data["reach"][metric])
        source = data["reach_sources"][metric]
        found.append(Figure(channel, metric, value, source["source"], source["method"],
                            f"{zh_label} {zh_amount(value)}{zh_unit}",
                            f"{en_label} {value:,} {en_unit}"))
    order = list(MANUAL_ZH)
    for channel, data in sorted(channels.items()):
        for metric, value in sorted(data["reach"].items(),
                                    key=lambda kv: (order.index(kv[0]) if kv[0] in order
                                                    else len(order), kv[0])):
            source = data["reach_sources"][metric]
            if source["source"] != "manual":
                continue
            label, unit = MANUAL_ZH.get(metric, (metric, ""))
            found.append(Figure(channel, metric, int(value), "manual", source["method"],
                                f"{label} {zh_amount(int(value))}{unit}",
                                f"{metric.replace('_', ' ')} {int(value):,}"))
    return found


def summary(title: str, reach: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(Chinese paragraph, English paragraph, footnotes)."""
    found = figures(reach)
    notes = [f"[{i}] {f.channel}.{f.metric}: {f.source}: {f.method}"
             for i, f in enumerate(found, 1)]
    zh = "；".join(f"{f.zh}[{i}]" for i, f in enumerate(found, 1))
    en = "; ".join(f"{f.en}{' (estimated)' if f.source == 'computed' and 'x' in f.method else ''}"
                   f" [{i}]" for i, f in enumerate(found, 1))
    chinese = f"「{title}」宣傳：{zh}。以上為毛計數（人次、條次），非去重人數。"
    english = (f"{title}: {en}. All counts are gross (times, not unique people); "
               "estimates are derived as the footnotes say.")
    return chinese, english, notes
