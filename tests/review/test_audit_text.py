"""The campaign page's history says each entry's detail in the reader's language.

The details are made by the real core functions (apply, plan, pause, resume, cancel with
a reason, retry, manual reach), so a change to how the core words a detail shows up
here as an untranslated English entry.
"""

from __future__ import annotations

import io
import re
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import import_contacts
from dispatcher.i18n import use_locale
from dispatcher.planning import runs
from dispatcher.reach import manual as manual_reach
from dispatcher.review.audit_text import detail_text
from dispatcher.testing import DRIVE_START, unconfigured_channel
from tests.approval.test_review_stages import CONTACTS, store

SHANGHAI = ZoneInfo("Asia/Shanghai")
ENGLISH_WORD = re.compile(r"\b(?!drive\b)[A-Za-z]{3,}\b")  # "drive.toml" is data


def test_every_detail_the_core_writes_reads_in_chinese(engine: Engine) -> None:
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    store(engine, "planner")
    lifecycle.approve(engine, "drive", "chief")
    runs.plan_firing(engine, "drive", DRIVE_START, unconfigured_channel)
    runs.pause(engine, "drive", "ops")
    runs.resume(engine, "drive", "ops")
    runs.cancel(engine, "drive", "ops", "活动延期")
    runs.retry_failed(engine, "drive", "ops")
    manual_reach.record(engine, "drive", "print", "posters", 60000, by="ops",
                        district="雁塔区")
    entries = [e for e in lifecycle.history(engine, "drive") if e["detail"]]
    assert {e["action"] for e in entries} >= {"apply", "plan", "pause", "resume", "cancel",
                                              "retry", "reach"}
    with use_locale("zh_CN"):
        shown = {e["action"]: detail_text(e["action"], e["detail"], SHANGHAI)
                 for e in entries}
    for action, text in shown.items():
        assert not ENGLISH_WORD.search(text.replace("drive.toml", "")
                                       .replace("print.posters", "")), (action, text)
    assert "活动延期" in shown["cancel"]
    assert "2019-06-03 09:00" in shown["plan"]  # the firing in Shanghai time, not UTC


def test_a_detail_in_no_known_shape_is_shown_as_written() -> None:
    with use_locale("zh_CN"):
        assert detail_text("apply", None, SHANGHAI) == ""
        assert detail_text("plan", "something new", SHANGHAI) == "something new"
        assert detail_text("custom", "run(s) 1", SHANGHAI) == "run(s) 1"
