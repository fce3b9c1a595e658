"""The dashboard's language, as a browser meets it (FastAPI's TestClient, real SQLite).

Order: ``?lang=`` for that request only, the choice made on the dashboard (kept in the
session and on the user, so the next sign-in keeps it), ``Accept-Language``, then
``[web] locale`` (zh-CN unless configured). The page says which in ``<html lang>``:
``zh-Hans``, ``zh-Hant`` or ``en``. A choice never writes anything but one of our
languages and never sends the browser to another site.

The tests of Chinese words (the last ones) read the catalogs: they pass once the
``zh_CN`` and ``zh_TW`` translations are in ``dispatcher/locale``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from dispatcher import i18n
from dispatcher.i18n.labels import label
from dispatcher.storage.tables import users
from tests.web.test_pages import app_for, csrf_of, make_app_engine, sign_in

HTML = "text/html,application/xhtml+xml,*/*;q=0.8"  # what a browser's Accept says


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_app_engine(sqlite_url)
    yield eng
    eng.dispose()


def html_lang(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    found = re.search(r'<html lang="([^"]+)"', page.text)
    assert found, "the page names no language"
    return found.group(1)


def stored_locale(engine: Engine, name: str) -> str | None:
    with engine.connect() as conn:
        found = conn.execute(select(users.c.locale).where(users.c.name == name)).scalar()
    return None if found is None else str(found)


def choose(client: TestClient, lang: str, next_path: str = "/campaigns",
           page: str = "/campaigns") -> httpx.Response:
    """Choose ``lang`` in the header's form of ``page``, as the browser posts it."""
    token = csrf_of(client.get(page).text)
    return client.post("/language", data={"lang": lang, "csrf": token, "next": next_path})


# Which language a page speaks ---------------------------------------------------------


def test_simplified_chinese_is_the_default(engine: Engine) -> None:
    with app_for(engine, language=None) as client:
        assert html_lang(client.get("/login")) == "zh-Hans"
        sign_in(client, "planner")
        assert html_lang(client.get("/campaigns")) == "zh-Hans"


@pytest.mark.parametrize(("configured", "expected"), [("en", "en"), ("zh-TW", "zh-Hant"),
                                                      ("zh_CN", "zh-Hans")])
def test_the_configured_locale_is_the_default(engine: Engine, configured: str,
                                              expected: str) -> None:
    with app_for(engine, language=None, web={"locale": configured}) as client:
        assert html_lang(client.get("/login")) == expected
    with app_for(engine, language="fr-FR", web={"locale": configured}) as client:
        assert html_lang(client.get("/login")) == expected  # none of ours: the default


@pytest.mark.parametrize(("header", "expected"), [
    ("en-US,en;q=0.9", "en"), ("zh-TW,zh;q=0.9", "zh-Hant"), ("zh-HK", "zh-Hant"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"), ("fr-FR,en;q=0.5", "en")])
def test_accept_language_chooses_over_the_default(engine: Engine, header: str,
                                                  expected: str) -> None:
    with app_for(engine, language=header, web={"locale": "zh_CN"}) as client:
        assert html_lang(client.get("/login")) == expected


def test_lang_in_the_url_wins_for_that_request_only(engine: Engine) -> None:
    with app_for(engine, language="zh-CN") as client:
        assert html_lang(client.get("/login?lang=en")) == "en"
        assert html_lang(client.get("/login")) == "zh-Hans"
        sign_in(client, "operator")
        page = client.get("/logs", params={"status": "failed", "lang": "zh-TW"})
        assert html_lang(page) == "zh-Hant"
        # the chooser returns to the page without ?lang=, which would outvote the choice
        assert 'name="next" value="/logs?status=failed"' in page.text
        assert html_lang(client.get("/logs?status=failed")) == "zh-Hans"


# The choice on the dashboard ----------------------------------------------------------


def test_the_choice_is_remembered_in_the_session_and_on_the_user(engine: Engine) -> None:
    with app_for(engine, language="en") as client:
        sign_in(client, "operator")
        chosen = choose(client, "zh-TW", next_path="/logs?status=failed")
        assert (chosen.status_code, chosen.headers["location"]) == (303, "/logs?status=failed")
        assert html_lang(client.get("/campaigns")) == "zh-Hant"  # over Accept-Language
        assert html_lang(client.get("/campaigns?lang=en")) == "en"  # one request only
        assert html_lang(client.get("/campaigns")) == "zh-Hant"
        assert stored_locale(engine, "operator") == "zh_TW"

        token = csrf_of(client.get("/campaigns").text)
        assert client.post("/logout", data={"csrf": token}).status_code == 303
        assert html_lang(client.get("/login")) == "en"  # signed out: the browser's again
        sign_in(client, "operator")
        assert html_lang(client.get("/campaigns")) == "zh-Hant"  # signed in: the choice

    with app_for(engine, language="en") as another_browser:
        sign_in(another_browser, "operator")
        assert html_lang(another_browser.get("/campaigns")) == "zh-Hant"
    with app_for(engine, language="en") as planners_browser:
        sign_in(planners_browser, "planner")  # the operator's choice is not theirs
        assert html_lang(planners_browser.get("/campaigns")) == "en"
    assert stored_locale(engine, "planner") is None


def test_a_choice_on_the_sign_in_page_lasts_the_session(engine: Engine) -> None:
    with app_for(engine, language="en") as client:
        chosen = choose(client, "zh_CN", next_path="/login", page="/login")
        assert (chosen.status_code, chosen.headers["location"]) == (303, "/login")
        assert html_lang(client.get("/login")) == "zh-Hans"
        sign_in(client, "approver")  # nobody remembered: the session's choice stays
        assert html_lang(client.get("/campaigns")) == "zh-Hans"
    assert stored_locale(engine, "approver") is None  # chosen by no signed-in user


@pytest.mark.parametrize("lang", ["klingon", "", "x" * 5000, "fr-FR", "../../etc/passwd",
                                  "en\r\nSet-Cookie: x=1", "<script>"])
def test_a_language_we_do_not_have_is_ignored(engine: Engine, lang: str) -> None:
    with app_for(engine, language="en") as client:
        sign_in(client, "operator")
        chosen = choose(client, lang)
        assert (chosen.status_code, chosen.headers["location"]) == (303, "/campaigns")
        assert html_lang(client.get("/campaigns")) == "en"
        assert html_lang(client.get("/campaigns", params={"lang": lang})) == "en"
    assert stored_locale(engine, "operator") is None


@pytest.mark.parametrize(("next_path", "location"), [
    ("//evil.example/x", "/campaigns"), ("https://evil.example/", "/campaigns"),
    ("evil.example", "/campaigns"), ("", "/campaigns"),
    ("/\\evil.example", "/%5Cevil.example"),  # a browser reads "/\" as "//": encoded
    ("/logs?status=failed&channel=sms", "/logs?status=failed&channel=sms")])
def test_the_choice_returns_to_a_local_path_only(engine: Engine, next_path: str,
                                                 location: str) -> None:
    with app_for(engine, language="en") as client:
        sign_in(client, "planner")
        chosen = choose(client, "zh-CN", next_path=next_path)
        assert (chosen.status_code, chosen.headers["location"]) == (303, location)
        parts = urlsplit(chosen.headers["location"])
        assert (parts.scheme, parts.netloc) == ("", "")


def test_the_choice_needs_the_forms_token(engine: Engine) -> None:
    with app_for(engine, language="en") as client:
        sign_in(client, "planner")
        for data in ({"lang": "zh-TW"}, {"lang": "zh-TW", "csrf": "forged"}):
            refused = client.post("/language", data=data)
            assert refused.status_code == 403
            assert refused.headers["content-type"].startswith("text/html")  # a page
            assert "reload the page and try again" in refused.text
        assert html_lang(client.get("/campaigns")) == "en"
    assert stored_locale(engine, "planner") is None


def test_the_404_page_speaks_the_language_and_starts_no_session(engine: Engine) -> None:
    with app_for(engine, language="zh-CN") as client:
        answer = client.get("/nowhere", headers={"Accept": HTML})
        assert answer.status_code == 404 and '<html lang="zh-Hans">' in answer.text
        assert 'action="/language"' not in answer.text  # a form would need a session
        assert "set-cookie" not in answer.headers
        answer = client.get("/nowhere?lang=en", headers={"Accept": HTML})
        assert '<html lang="en">' in answer.text and "Page not found" in answer.text


# Chinese words (once the catalogs hold the translations) ------------------------------


def translated(locale: str, message: str) -> str:
    """``message`` in ``locale``, and not English: a missing translation fails here."""
    with i18n.use_locale(locale):
        found = i18n._(message)
    assert found != message, f"{message!r} has no {locale} translation in the catalogs"
    return found


def role_word(locale: str, role: str) -> str:
    with i18n.use_locale(locale):
        found = label("role", role)
    assert found != role, f"role {role!r} has no {locale} label in the catalogs"
    return found


@pytest.mark.parametrize(("header", "locale"), [("zh-CN", "zh_CN"), ("zh-TW", "zh_TW")])
def test_the_pages_speak_chinese(engine: Engine, header: str, locale: str) -> None:
    with app_for(engine, language=header) as client:
        login = client.get("/login").text
        assert translated(locale, "Sign in") in login and "Sign in" not in login
        sign_in(client, "planner")
        for path in ("/campaigns", "/screens", "/cinemas"):
            page = client.get(path).text
            assert translated(locale, "Sign out") in page, path
            assert role_word(locale, "planner") in page, path
            assert ">Sign out<" not in page and ">Campaigns<" not in page, path
        assert translated(locale, "Refused reports") in client.get("/screens").text


def test_a_refusal_names_the_roles_in_chinese(engine: Engine) -> None:
    with app_for(engine, language="zh-CN") as client:
        token = sign_in(client, "planner")
        refused = client.post("/campaigns/drive/pause", data={"csrf": token})
        assert refused.status_code == 403
        assert translated("zh_CN", "Not allowed") in refused.text
        for role in ("operator", "admin", "planner"):
            assert role_word("zh_CN", role) in refused.text
        assert "needs the" not in refused.text and "signed in as" not in refused.text


def test_a_wrong_password_is_told_in_chinese(engine: Engine) -> None:
    with app_for(engine, language="zh-CN") as client:
        token = csrf_of(client.get("/login").text)
        answer = client.post("/login", data={"name": "planner", "password": "wrong!",
                                             "csrf": token})
        assert answer.status_code == 401
        assert translated("zh_CN", "Wrong user name or password.") in answer.text
