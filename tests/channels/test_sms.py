"""The SMS channel: its config table, placement validation and planned targets."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from channels.audience import got, parse_audience
from channels.base import (
    Audience,
    Channel,
    ConfigError,
    Contact,
    Placement,
    Problem,
    Target,
    ValidationContext,
    type_name,
)
from channels.sms.channel import SmsChannel
from channels.sms.settings import SmsSettings, TwilioSettings

PINGAN_BODY = "【平安高新】扫黑除恶，人人有责。举报电话110。回TD退订"
KNOWN = ValidationContext(known_lists=frozenset({"residents", "workers"}))
ACCOUNT_SID = "AC" + "0" * 32
SERVICE_SID = "MG" + "0" * 32


class Unrevealed:
    """A secret that fails the test if anything reads it."""

    def reveal(self) -> str:
        raise AssertionError("from_config must not reveal secrets")


def sms_table(drop: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    table: dict[str, Any] = {"provider": "twilio", "account_sid": ACCOUNT_SID,
                             "auth_token": Unrevealed(), "from": "+15005550006"}
    table.update({key.removesuffix("_"): value for key, value in changes.items()})
    return {key: value for key, value in table.items() if key not in drop}


def placement(**changes: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"audience": {"lists": ["residents"]}, "body": "Call 110"}
    options.update(changes)
    return options


def problems(options: dict[str, Any], context: ValidationContext = KNOWN,
             channel: SmsChannel | None = None) -> list[tuple[tuple[Any, ...], str]]:
    found = (channel or SmsChannel()).validate(options, context)
    return [(problem.path, problem.message) for problem in found]


# The [channels.sms] table


def test_sms_channel_is_a_channel() -> None:
    assert isinstance(SmsChannel(), Channel)
    assert SmsChannel.name == "sms"
    assert SmsChannel.capabilities.person_addressed is True
    assert SmsChannel.capabilities.waits_for_send_window is True
    # rate-limited in segments: 71 UCS-2 characters take two
    assert SmsChannel().message_cost(Placement(0, "sms", {"body": "中" * 71})) == 2


def test_from_config_defaults_and_secrets_kept_unrevealed() -> None:
    table = sms_table()
    settings = SmsChannel.from_config(table).settings
    assert settings == SmsSettings({"default": TwilioSettings(
        account_sid=ACCOUNT_SID, auth_token=table["auth_token"], sender="+15005550006")})
    account = settings.default
    assert isinstance(account, TwilioSettings)
    assert (settings.rate, settings.max_segments, settings.concurrency) == (10.0, 10, 8)
    assert account.status_callback is True and account.api_base is None
    assert account.timeout == 10.0


def test_from_config_every_key() -> None:
    sid = Unrevealed()
    table = sms_table(drop=("from",), account_sid=sid, messaging_service_sid=SERVICE_SID,
                      api_base="http://127.0.0.1:8765/", rate=2.5, max_segments=3,
                      concurrency=1, status_callback=False, timeout=2.5)
    settings = SmsChannel.from_config(table).settings
    assert settings is not None
    account = settings.default
    assert isinstance(account, TwilioSettings)
    assert account.account_sid is sid
    assert (account.sender, account.messaging_service_sid) == (None, SERVICE_SID)
    assert account.api_base == "http://127.0.0.1:8765"
    assert (settings.rate, settings.max_segments, settings.concurrency) == (2.5, 3, 1)
    assert account.status_callback is False
    assert account.timeout == 2.5


@pytest.mark.parametrize("sender", ["+8613800138000", "12345", "PingAn Gov"])
def test_from_config_accepts_senders(sender: str) -> None:
    settings = SmsChannel.from_config(sms_table(from_=sender)).settings
    assert settings is not None and isinstance(settings.default, TwilioSettings)
    assert settings.default.sender == sender


@pytest.mark.parametrize(("table", "key", "message"), [
    (sms_table(form="+1"), "channels.sms.form",
     "unknown key; allowed: account_sid, accounts, api_base, auth_token, concurrency, from, "
     "max_segments, messaging_service_sid, provider, rate, status_callback, templates, "
     "timeout"),
    (sms_table(provider="huawei"), "channels.sms.provider",
     'must be "twilio", "aliyun" or "tencent", got "huawei"'),
    (sms_table(drop=("account_sid",)), "channels.sms.account_sid",
     'is required: the Twilio Account SID, such as account_sid = "env:TWILIO_ACCOUNT_SID"'),
    (sms_table(account_sid="MG123"), "channels.sms.account_sid",
     'must be a Twilio Account SID (it starts with "AC") or a reference such as '
     'account_sid = "env:TWILIO_ACCOUNT_SID", got "MG123"'),
    (sms_table(drop=("auth_token",)), "channels.sms.auth_token",
     'is required: write auth_token = "env:TWILIO_AUTH_TOKEN" and set that environment '
     "variable"),
    (sms_table(auth_token="hunter2"), "channels.sms.auth_token",
     'must not be written in the file: write auth_token = "env:TWILIO_AUTH_TOKEN" and set '
     "that environment variable"),
    (sms_table(drop=("from",)), "channels.sms.from",
     'is required: a sender such as from = "+15005550006", or messaging_service_sid = '
     '"MG..." instead'),
    (sms_table(messaging_service_sid=SERVICE_SID), "channels.sms.messaging_service_sid",
     "give either from or messaging_service_sid, not both"),
    (sms_table(drop=("from",), messaging_service_sid="AC1"), "channels.sms.messaging_service_sid",
     'must be a Twilio Messaging Service SID (it starts with "MG"), got "AC1"'),
    (sms_table(from_="13800138000x"), "channels.sms.from",
     'must be a phone number in E.164 form such as "+15005550006", a short code or an '
     'alphanumeric sender ID, got "13800138000x"'),
    (sms_table(from_=15005550006), "channels.sms.from",
     'must be a phone number in E.164 form such as "+15005550006", a short code or an '
     "alphanumeric sender ID, got 15005550006"),
    (sms_table(api_base="127.0.0.1:8765"), "channels.sms.api_base",
     'must be an http or https URL such as "http://127.0.0.1:8765", got "127.0.0.1:8765"'),
    (sms_table(rate=0), "channels.sms.rate",
     "must be a positive number of segments per second, such as 10, got 0"),
    (sms_table(rate=True), "channels.sms.rate",
     "must be a positive number of segments per second, such as 10, got true"),
    (sms_table(rate=float("inf")), "channels.sms.rate",
     "must be a positive number of segments per second, such as 10, got inf"),
    (sms_table(max_segments=11), "channels.sms.max_segments",
     "must be an integer from 1 to 10, got 11"),
    (sms_table(max_segments=2.0), "channels.sms.max_segments",
     "must be an integer from 1 to 10, got 2.0"),
    (sms_table(concurrency=0), "channels.sms.concurrency",
     "must be a positive integer, got 0"),
    (sms_table(concurrency=False), "channels.sms.concurrency",
     "must be a positive integer, got false"),
    (sms_table(status_callback="yes"), "channels.sms.status_callback",
     'must be true or false, got "yes"'),
    (sms_table(timeout=0), "channels.sms.timeout",
     "must be a number of seconds above 0 and at most 300, such as 10, got 0"),
    (sms_table(timeout=301), "channels.sms.timeout",
     "must be a number of seconds above 0 and at most 300, such as 10, got 301"),
    (sms_table(timeout="10s"), "channels.sms.timeout",
     'must be a number of seconds above 0 and at most 300, such as 10, got "10s"'),
])
def test_from_config_errors_name_the_key(table: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SmsChannel.from_config(table)
    assert (caught.value.key, caught.value.message) == (key, message)
    assert str(caught.value) == f"{key}: {message}"


# Placement validation


def test_design_example_placement_is_valid() -> None:
    options = {"audience": {"lists": ["residents"], "areas": ["residential", "work"]},
               "body": PINGAN_BODY, "max_segments": 2, "name": "residents, first wave"}
    assert problems(options) == []


def test_unknown_placement_key_lists_allowed_keys() -> None:
    assert problems(placement(text="hi")) == [
        (("text",), 'unknown key "text"; allowed: account, audience, body, max_segments, '
                    "name, params, sign_name, template")]


def test_missing_audience_and_body_are_both_reported() -> None:
    assert problems({}) == [
        (("audience",), "is required: the contact lists to send to, such as "
                        'audience = { lists = ["residents"] }'),
        (("body",), 'is required: the message text, such as body = "Report crime: call 110"'),
    ]


@pytest.mark.parametrize(("body", "message"), [
    (110, "must be a string, got an integer"),
    (["hi"], "must be a string, got an array"),
    (" \n\t ", "must not be empty or only whitespace"),
    ("a" * 1601, "is 1601 characters, more than 1600 (the most one message can hold)"),
])
def test_bad_body(body: object, message: str) -> None:
    assert problems(placement(body=body)) == [(("body",), message)]


@pytest.mark.parametrize(("value", "message"), [
    (True, "must be an integer from 1 to 10, got a boolean"),
    ("2", "must be an integer from 1 to 10, got a string"),
    (1.5, "must be an integer from 1 to 10, got a float"),
    (0, "must be an integer from 1 to 10, got 0"),
    (11, "must be an integer from 1 to 10, got 11"),
])
def test_bad_max_segments(value: object, message: str) -> None:
    assert problems(placement(max_segments=value)) == [(("max_segments",), message)]


@pytest.mark.parametrize(("value", "message"), [
    ("", "must not be empty (a label for this placement)"),
    (3, "must be a string (a label for this placement), got an integer"),
])
def test_bad_name(value: object, message: str) -> None:
    assert problems(placement(name=value)) == [(("name",), message)]


def test_ucs2_body_over_max_segments() -> None:
    body = "中" * 150
    assert problems(placement(body=body, max_segments=2)) == [(("body",), (
        'is 3 segments (UCS-2 because of "中", 150 characters), more than max_segments = 2; '
        "shorten it or raise max_segments (UCS-2: 70 characters in one segment, 67 per "
        "segment when split; an emoji counts as 2)"))]
    assert problems(placement(body=body, max_segments=3)) == []


def test_one_curly_quote_is_named_as_the_ucs2_cause() -> None:
    message = problems(placement(body="It’s" + "a" * 70, max_segments=1))[0][1]
    assert message.startswith('is 2 segments (UCS-2 because of "’", 74 characters)')


def test_gsm_body_over_max_segments() -> None:
    assert problems(placement(body="a" * 161, max_segments=1)) == [(("body",), (
        "is 2 segments (GSM-7, 161 characters), more than max_segments = 1; shorten it or "
        "raise max_segments (GSM-7: 160 characters in one segment, 153 per segment when "
        "split; each of ^ { } \\ [ ] ~ | € counts as 2)"))]
    assert problems(placement(body="a" * 160, max_segments=1)) == []


def test_default_max_segments_comes_from_settings() -> None:
    channel = SmsChannel.from_config(sms_table(max_segments=1))
    assert problems(placement(body="a" * 161), channel=channel) == [(("body",), (
        "is 2 segments (GSM-7, 161 characters), more than max_segments = 1 (the default); "
        "shorten it or raise max_segments (GSM-7: 160 characters in one segment, 153 per "
        "segment when split; each of ^ { } \\ [ ] ~ | € counts as 2)"))]
    assert problems(placement(body="a" * 161, max_segments=2), channel=channel) == []
    # Unconfigured: the built-in default of 10 segments (1530 septets).
    assert problems(placement(body="a" * 1530)) == []
    assert problems(placement(body="a" * 1531))[0][1].startswith(
        "is 11 segments (GSM-7, 1531 characters), more than max_segments = 10 (the default)")


# The audience table


def test_audience_problems_have_paths_inside_the_placement() -> None:
    audience = {"list": ["residents"], "lists": ["residents", 7, "", "residents", "nobody"],
                "areas": ["park", "work"], "districts": "Xinan", "tags": [True]}
    assert problems(placement(audience=audience)) == [
        (("audience", "list"), 'unknown key "list"; allowed: areas, districts, lists, tags'),
        (("audience", "lists", 1), "must be a string, got an integer"),
        (("audience", "lists", 2), "must not be empty"),
        (("audience", "lists", 3), 'repeats "residents"; name each list once'),
        (("audience", "lists", 4), 'unknown contact list "nobody"; known lists: residents, '
                                   "workers"),
        (("audience", "areas", 0), 'unknown area "park"; allowed: residential, work, '
                                   "activity, street"),
        (("audience", "districts"), "must be a list of strings, got a string"),
        (("audience", "tags", 0), "must be a string, got a boolean"),
    ]


@pytest.mark.parametrize(("audience", "path", "message"), [
    ("residents", ("audience",),
     'must be a table such as { lists = ["residents"] }, got a string'),
    ({"areas": ["work"]}, ("audience", "lists"),
     'is required: the contact lists to send to, such as audience = { lists = ["residents"] }'),
    ({"lists": []}, ("audience", "lists"),
     'must be a non-empty list of contact list names, such as ["residents"]'),
    ({"lists": "residents"}, ("audience", "lists"),
     'must be a non-empty list of contact list names, such as ["residents"], got a string'),
    ({"lists": ["residents"], "areas": "work"}, ("audience", "areas"),
     "must be a list of strings, got a string; allowed: residential, work, activity, street"),
])
def test_bad_audience_shape(audience: object, path: tuple[Any, ...], message: str) -> None:
    assert problems(placement(audience=audience)) == [(path, message)]


def test_list_names_are_not_checked_without_a_database() -> None:
    assert problems(placement(audience={"lists": ["anything"]}), ValidationContext()) == []


def test_unknown_list_when_no_lists_exist_says_how_to_create_one() -> None:
    found = problems(placement(), ValidationContext(known_lists=frozenset()))
    assert found == [(("audience", "lists", 0), (
        'unknown contact list "residents"; no contact lists exist yet: create one with: '
        "dispatcher contacts import FILE.csv --list NAME"))]


def test_unknown_list_shows_at_most_ten_known_lists() -> None:
    context = ValidationContext(known_lists=frozenset(f"list{n:02}" for n in range(12)))
    assert problems(placement(audience={"lists": ["nobody"]}), context) == [
        (("audience", "lists", 0), 'unknown contact list "nobody"; known lists: '
         + ", ".join(f"list{n:02}" for n in range(10)) + ", ...")]


def test_parse_audience_builds_the_audience() -> None:
    value = {"lists": ["workers", "residents"], "areas": ["work", "work"],
             "districts": ["Xinan"], "tags": ["night-shift"]}
    assert parse_audience(value, KNOWN) == (
        Audience(("workers", "residents"), ("work",), ("Xinan",), ("night-shift",)), [])
    assert parse_audience(None, KNOWN)[0] is None


@pytest.mark.parametrize(("value", "name"), [
    ("x", "a string"), (1, "an integer"), (1.0, "a float"), (False, "a boolean"),
    ({}, "a table"), ([], "an array"), (datetime.datetime(2019, 5, 1, 8, 0), "a date-time"),
    (datetime.date(2019, 5, 1), "a date"), (datetime.time(8, 0), "a time")])
def test_type_names(value: object, name: str) -> None:
    assert type_name(value) == name


def test_got_uses_the_right_article() -> None:
    assert (got("x"), got(1), got([])) == ("got a string", "got an integer", "got an array")


# Planning


@dataclass
class Person:
    phone: str
    lists: set[str]
    line_type: str = "mobile"
    area: str | None = "residential"
    district: str | None = "Xinan"
    opted_out_of: set[str] = field(default_factory=set)


class ListInventory:
    """A real Inventory over a list: members of any audience list, filtered, by id."""

    def __init__(self, people: list[Person]) -> None:
        self.people = people
        self.queries: list[tuple[Audience, str]] = []

    def contacts(self, audience: Audience, channel: str) -> Iterator[Contact]:
        self.queries.append((audience, channel))
        for number, person in enumerate(self.people, 1):
            memberships = len(person.lists & set(audience.lists))
            if not memberships or (audience.areas and person.area not in audience.areas):
                continue
            yield Contact(id=number, phone=person.phone, line_type=person.line_type,
                          area=person.area, district=person.district,
                          memberships=memberships, opted_out=channel in person.opted_out_of)


def test_targets_mark_opted_out_and_non_mobile_and_count_copies() -> None:
    inventory = ListInventory([
        Person("+8613800000003", {"residents", "workers"}),
        Person("+8613800000001", {"residents"}, opted_out_of={"sms"}),
        Person("+8675500000002", {"workers"}, line_type="fixed_line"),
        Person("+8613800000004", {"workers"}, line_type="fixed_line_or_mobile"),
        Person("+8613800000005", {"residents"}, area="work"),
        Person("+8613800000006", {"visitors"}),
        Person("+8613800000000", {"residents"}, line_type="voip", opted_out_of={"sms"}),
    ])
    options = {"audience": {"lists": ["residents", "workers"], "areas": ["residential"]},
               "body": "Call 110"}
    targets = list(SmsChannel().targets(Placement(0, "sms", options), inventory))
    assert targets == [
        Target(1, "+8613800000003", 1, copies=2),
        Target(2, "+8613800000001", 2, "opted_out"),
        Target(3, "+8675500000002", 3, "invalid", "not a mobile number (fixed_line)"),
        Target(4, "+8613800000004", 4),
        Target(7, "+8613800000000", 7, "opted_out"),
    ]
    assert inventory.queries == [
        (Audience(("residents", "workers"), ("residential",)), "sms")]


def test_targets_stream_lazily() -> None:
    inventory = ListInventory([Person(f"+86138000000{n:02}", {"residents"}) for n in range(50)])
    stream = SmsChannel().targets(Placement(0, "sms", placement()), inventory)
    assert inventory.queries == []
    assert next(stream) == Target(1, "+8613800000000", 1)
    assert next(stream) == Target(2, "+8613800000001", 2)


def test_targets_refuse_an_unvalidated_placement() -> None:
    stream = SmsChannel().targets(Placement(3, "sms", {"body": "x"}), ListInventory([]))
    with pytest.raises(ValueError, match="placement 3 was not validated: audience: is required"):
        next(stream)


def test_problem_paths_are_tuples() -> None:
    assert SmsChannel().validate(placement(max_segments=0), KNOWN) == [
        Problem(("max_segments",), "must be an integer from 1 to 10, got 0")]
