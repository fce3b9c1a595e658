from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from dispatcher import registry
from dispatcher.audience import optouts
from dispatcher.cli.optout import optout as optout_command
from dispatcher.context import AppContext
from dispatcher.errors import DispatcherError, InvalidPhone
from dispatcher.files.csvfile import ImportFileError, InvalidRow


def _all(engine: Engine, channel: str | None = None) -> list[tuple[str, str, str, str | None]]:
    return [(o.channel, o.address, o.source, o.reason)
            for o in optouts.iter_optouts(engine, channel)]


def test_add_normalises_phones_and_keeps_the_first_record(engine: Engine) -> None:
    assert optouts.add(engine, "138 1234 5678", reason="asked by phone") is True
    assert optouts.add(engine, "+86 138-1234-5678", source="reply") is False
    assert optouts.add(engine, "13812345678", channel="sms", source="provider") is True
    assert _all(engine) == [("*", "+8613812345678", "operator", "asked by phone"),
                            ("sms", "+8613812345678", "provider", None)]
    created = next(optouts.iter_optouts(engine)).created_at
    assert created.tzinfo is not None


def test_add_checks_its_input(engine: Engine) -> None:
    with pytest.raises(InvalidPhone, match="too short"):
        optouts.add(engine, "1381")
    with pytest.raises(DispatcherError, match="not an installed channel"):
        optouts.add(engine, "13812345678", channel="carrier-pigeon")
    with pytest.raises(ValueError, match="source"):
        optouts.add(engine, "13812345678", source="rumour")
    assert _all(engine) == []


def test_other_addresses_are_stored_as_written(engine: Engine) -> None:
    openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert optouts.add(engine, f" {openid} ") is True
    assert optouts.is_opted_out(engine, openid, "sms")
    assert _all(engine) == [("*", openid, "operator", None)]


def test_is_opted_out_per_channel_and_for_every_channel(engine: Engine) -> None:
    optouts.add(engine, "13812345678", channel="sms")
    optouts.add(engine, "13912345678")
    assert optouts.is_opted_out(engine, "+8613812345678", "sms")
    assert optouts.is_opted_out(engine, "138 1234 5678", "sms")
    assert not optouts.is_opted_out(engine, "13812345678", "wechat")
    assert not optouts.is_opted_out(engine, "13812345678", "*")
    assert optouts.is_opted_out(engine, "13912345678", "wechat")
    assert optouts.is_opted_out(engine, "13912345678", "*")
    assert not optouts.is_opted_out(engine, "15012345678", "sms")
    assert not optouts.is_opted_out(engine, "garbage", "sms")


def test_list_is_paginated_by_keyset(engine: Engine) -> None:
    for i in range(7):
        optouts.add(engine, f"1381234567{i}", channel="sms" if i % 2 else "*")
    listed = [(o.channel, o.address) for o in optouts.iter_optouts(engine, page_size=2)]
    assert listed == sorted(listed)
    assert len(listed) == 7
    assert [o.address for o in optouts.iter_optouts(engine, "sms", page_size=3)] == [
        a for _, a in listed]  # "*" applies to sms too
    assert {o.channel for o in optouts.iter_optouts(engine, "*", page_size=3)} == {"*"}


def _write(tmp_path: Path, text: str, name: str = "optouts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


OPTOUT_CSV = """\
phone,channel,reason
13812345678,sms,回TD退订
138 1234 5678,,
not a number,sms,
13912345678,fax,
+86 150 1234 5678,*,complaint
13812345678,sms,again in the same file
"""


def test_import(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, OPTOUT_CSV)
    report = optouts.import_optouts(engine, path, "CN")
    assert report.invalid_rows == [
        InvalidRow(4, "phone: not a phone number"),
        InvalidRow(5, "channel 'fax' is not an installed channel; use one of "
                      + ", ".join(registry.installed()) + ' or "*" for every channel'),
    ]
    assert (report.rows_read, report.imported, report.invalid, report.added) == (6, 4, 2, 3)
    assert _all(engine) == [("*", "+8613812345678", "import", None),
                            ("*", "+8615012345678", "import", "complaint"),
                            ("sms", "+8613812345678", "import", "回TD退订")]
    again = optouts.import_optouts(engine, path, "CN")
    assert (again.imported, again.added) == (4, 0)


def test_import_default_channel_and_header(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeffPhone\n13812345678\n")
    report = optouts.import_optouts(engine, path, "CN", default_channel="sms")
    assert report.added == 1
    assert _all(engine) == [("sms", "+8613812345678", "import", None)]
    with pytest.raises(ImportFileError, match=r"missing required column.*phone"):
        optouts.import_optouts(engine, _write(tmp_path, "reason\nx\n", "bad.csv"), "CN")
    with pytest.raises(ImportFileError, match=r"unknown column.*'source'"):
        optouts.import_optouts(engine, _write(tmp_path, "phone,source\n", "bad2.csv"), "CN")


# --- the command line ---------------------------------------------------------------


def _run(app: AppContext, *args: str) -> Any:
    return CliRunner().invoke(optout_command, list(args), obj=app)


def test_cli_add_and_list_masked(cli_app: AppContext) -> None:
    result = _run(cli_app, "add", "138 1234 5678", "--reason", "asked by phone")
    assert result.exit_code == 0, result.output
    assert result.stdout == "+86 138****5678: opted out (channel *)\n"
    result = _run(cli_app, "add", "13812345678")
    assert "already opted out" in result.stdout
    _run(cli_app, "add", "13912345678", "--channel", "sms")

    listed = _run(cli_app, "list").stdout
    assert "+86 138****5678" in listed and "asked by phone" in listed
    assert "13812345678" not in listed and "+8613812345678" not in listed
    assert "+8613812345678" in _run(cli_app, "list", "--unmask").stdout

    records = json.loads(_run(cli_app, "list", "--json").stdout)
    assert [(r["channel"], r["address"]) for r in records] == [
        ("*", "+86 138****5678"), ("sms", "+86 139****5678")]
    records = json.loads(_run(cli_app, "list", "--json", "--unmask", "--limit", "1").stdout)
    assert [r["address"] for r in records] == ["+8613812345678"]
    assert json.loads(_run(cli_app, "list", "--json", "--channel", "*").stdout)[0]["channel"] == "*"


def test_cli_add_rejects_bad_input(cli_app: AppContext) -> None:
    result = _run(cli_app, "add", "1381")
    assert result.exit_code == 1
    assert str(result.exception) == "**** is not a valid phone number: too short"
    result = _run(cli_app, "add", "13812345678", "--channel", "smss")
    assert "not an installed channel" in str(result.exception)
    assert _run(cli_app, "list").stdout == "no opt-outs\n"


def test_cli_import(cli_app: AppContext, tmp_path: Path) -> None:
    path = _write(tmp_path, OPTOUT_CSV)
    result = _run(cli_app, "import", str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}:4: phone: not a phone number" in result.stderr
    assert "4 of 6 rows valid, 3 new opt-outs, 2 invalid" in result.stdout
    result = _run(cli_app, "import", str(path), "--json")
    assert json.loads(result.stdout)["added"] == 0
    empty = _write(tmp_path, "phone\n", "empty.csv")
    result = _run(cli_app, "import", str(empty))
    assert result.exit_code == 1
    assert "no data rows" in result.stderr


def test_cli_help_on_every_command() -> None:
    for name in ("add", "import", "list"):
        result = CliRunner().invoke(optout_command, [name, "--help"])
        assert result.exit_code == 0
        assert len(result.output.splitlines()) > 4
