"""The push URLs' tokens are secrets: uvicorn's access log must not write them."""

from __future__ import annotations

import logging
import logging.config

import uvicorn.config

from dispatcher.web.hooks import HidePushTokens

TOKEN = "s3cret-Token_value"


def test_the_access_log_hides_a_push_token_and_keeps_the_rest() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/hooks/sms/push/default/report/{TOKEN}", "1.1", 200),
        None)
    assert HidePushTokens().filter(record)
    line = record.getMessage()
    assert TOKEN not in line
    assert '"POST /hooks/sms/push/default/report/*** HTTP/1.1" 200' in line


def test_other_paths_are_left_alone() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s",
                               ("/hooks/sms/status?d=12",), None)
    HidePushTokens().filter(record)
    assert record.getMessage() == "/hooks/sms/status?d=12"


def test_the_filter_survives_uvicorn_configuring_its_loggers() -> None:
    """``dispatcher serve`` adds the filter before uvicorn.run configures logging."""
    access = logging.getLogger("uvicorn.access")
    hide = HidePushTokens()
    access.addFilter(hide)
    try:
        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
        assert hide in access.filters
    finally:
        access.removeFilter(hide)
