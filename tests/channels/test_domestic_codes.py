"""Aliyun's and Tencent Cloud's error codes classified: fail the row, retry it, or look it
up first; and which mean the person opted out."""

from __future__ import annotations

from typing import Any

import pytest
from tencentcloud.sms.v20210111 import errorcodes

from channels.sms import aliyun_codes, tencent_codes

# Tencent Cloud's common codes (every product's), not in the SMS SDK's own list.
TENCENT_COMMON = {"RequestLimitExceeded", "InternalError", "AuthFailure.SignatureFailure",
                  "AuthFailure.SecretIdNotFound"}


@pytest.mark.parametrize(("code", "message", "outcome"), [
    ("isv.MOBILE_NUMBER_ILLEGAL", "", "failed"),
    ("isv.SMS_TEMPLATE_ILLEGAL", "", "failed"),
    ("isv.SMS_SIGNATURE_ILLEGAL", "", "failed"),
    ("isv.AMOUNT_NOT_ENOUGH", "", "retry"),
    ("Throttling.User", "", "retry"),
    ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", "retry"),
    ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5", "retry"),
    ("isv.BUSINESS_LIMIT_CONTROL", "", "retry"),
    ("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10", "failed"),
    ("isp.SYSTEM_ERROR", "", "unknown"),
    ("InternalError", "", "unknown"),
    ("MOBILE_IN_BLACK", "", "failed"),
    (" isv.MOBILE_NUMBER_ILLEGAL ", "", "failed"),
])
def test_aliyun_codes_are_classified(code: str, message: str, outcome: str) -> None:
    assert aliyun_codes.classify(code, message).outcome == outcome


def test_the_aliyun_daily_limit_says_when_to_try_again() -> None:
    daily = aliyun_codes.classify("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10")
    assert "daily" in daily.description and "tomorrow" in daily.description


@pytest.mark.parametrize(("code", "outcome"), [
    ("FailedOperation.TemplateIncorrectOrUnapproved", "failed"),
    ("FailedOperation.SignatureIncorrectOrUnapproved", "failed"),
    ("InvalidParameterValue.IncorrectPhoneNumber", "failed"),
    ("LimitExceeded.PhoneNumberDailyLimit", "failed"),
    ("LimitExceeded.PhoneNumberOneHourLimit", "retry"),
    ("LimitExceeded.PhoneNumberThirtySecondLimit", "retry"),
    ("FailedOperation.InsufficientBalanceInSmsPackage", "retry"),
    ("RequestLimitExceeded", "retry"),
    ("InternalError.Timeout", "unknown"),
    ("InternalError.SendAndRecvFail", "unknown"),
])
def test_tencent_codes_are_classified(code: str, outcome: str) -> None:
    assert tencent_codes.classify(code).outcome == outcome


@pytest.mark.parametrize(("code", "outcome"), [
    ("isv.SOMETHING_NEW", "failed"), ("isp.SOMETHING_NEW", "unknown"),
    ("Throttling.Api", "retry"), ("SomethingElse", "unknown"),
])
def test_unlisted_aliyun_codes_follow_their_prefix(code: str, outcome: str) -> None:
    found = aliyun_codes.classify(code)
    assert found.outcome == outcome and code in found.description and not found.opt_out


@pytest.mark.parametrize(("code", "outcome"), [
    ("FailedOperation.SomethingNew", "failed"), ("InvalidParameter.New", "failed"),
    ("InvalidParameterValue.New", "failed"), ("UnsupportedOperation.New", "failed"),
    ("UnauthorizedOperation.New", "failed"), ("MissingParameter.New", "failed"),
    ("LimitExceeded.New", "retry"), ("RequestLimitExceeded.New", "retry"),
    ("InternalError.New", "unknown"), ("SomethingElse", "unknown"),
])
def test_unlisted_tencent_codes_follow_their_prefix(code: str, outcome: str) -> None:
    found = tencent_codes.classify(code)
    assert found.outcome == outcome and code in found.description and not found.opt_out


def test_only_a_refusing_person_opts_out() -> None:
    assert aliyun_codes.classify("MOBILE_IN_BLACK").opt_out
    assert tencent_codes.classify("FailedOperation.PhoneNumberInBlacklist").opt_out
    # A blacklisted *keyword* in a variable is about the wording, not the person.
    assert not aliyun_codes.classify("isv.BLACK_KEY_CONTROL_LIMIT").opt_out
    assert not aliyun_codes.classify("isv.MOBILE_NUMBER_ILLEGAL").opt_out


@pytest.mark.parametrize("module", [aliyun_codes, tencent_codes])
def test_every_listed_code_is_in_one_table_and_classified_by_it(module: Any) -> None:
    tables = {"failed": module.PERMANENT, "retry": module.RETRY,
              "unknown": module.UNKNOWN}
    seen: set[str] = set()
    for outcome, table in tables.items():
        assert not seen & set(table), f"listed twice: {seen & set(table)}"
        seen |= set(table)
        for code in table:
            assert module.classify(code).outcome == outcome, code
    assert set(module.PERMANENT) >= module.OPT_OUT


def test_tencent_codes_are_spelled_as_the_sdk_spells_them() -> None:
    """Guards against typos: every SMS code listed is in the SDK's own list."""
    documented = {value for name, value in vars(errorcodes).items() if name.isupper()}
    listed = {*tencent_codes.PERMANENT, *tencent_codes.RETRY, *tencent_codes.UNKNOWN}
    assert not listed - documented - TENCENT_COMMON, sorted(listed - documented)


def test_the_issue_codes_are_covered() -> None:
    for code in ("isv.BUSINESS_LIMIT_CONTROL", "isv.MOBILE_NUMBER_ILLEGAL",
                 "isv.AMOUNT_NOT_ENOUGH"):
        assert "not described" not in aliyun_codes.classify(code).description
    for code in ("LimitExceeded.PhoneNumberDailyLimit",
                 "FailedOperation.TemplateIncorrectOrUnapproved", "InternalError.Timeout"):
        assert "not described" not in tencent_codes.classify(code).description
    assert len({*aliyun_codes.PERMANENT, *aliyun_codes.RETRY, *aliyun_codes.UNKNOWN}) >= 15
    assert len({*tencent_codes.PERMANENT, *tencent_codes.RETRY, *tencent_codes.UNKNOWN}) >= 15
