from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from dispatcher.audience.contacts import ListSize, import_contacts, list_names, list_sizes
from dispatcher.audience.phones import normalize
from dispatcher.cli.contacts import contacts as contacts_command
from dispatcher.context import AppContext
from dispatcher.demo.contact_samples import SampleMix, sample_contacts, write_csv
from dispatcher.files.csvfile import (
    MAX_INVALID_DETAILS,
    MAX_LINE_CHARS,
    UNCLOSED_QUOTE,
    ImportFileError,
    InvalidRow,
)
from dispatcher.storage.tables import contact_lists, contacts, list_members

AREA_REASON = "is not one of residential, work, activity, street (or empty)"


def _write(tmp_path: Path, text: str, name: str = "contacts.csv",
           encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _contacts(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(contacts)).mappings().all()
    return {row["phone"]: dict(row) for row in rows}


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


MIXED = """\
phone,area,district,name,tags
13812345678,residential,丈八街道,王伟,"志愿者, 楼长"
not-a-phone,work,细柳街道,,
+86 139 1234 5678,Work,鱼化寨街道,,

029-88123456,home,兴隆街道,,
13812,street,丈八街道,,
"15012345678",activity,"东大
街道",李娜,
029-88123456,,兴隆街道,,商户
x,,,,
"""


def test_invalid_rows_are_reported_by_line_and_valid_rows_imported(
        engine: Engine, tmp_path: Path) -> None:
    report = import_contacts(engine, _write(tmp_path, MIXED), "residents", "CN")
    assert report.invalid_rows == [
        InvalidRow(3, "phone: not a phone number"),
        InvalidRow(6, f"area 'home' {AREA_REASON}"),
        InvalidRow(7, "phone: too short: a local number without its area code"),
        InvalidRow(8, UNCLOSED_QUOTE),  # no field may span lines: each line is read alone
        InvalidRow(9, f"area '李娜' {AREA_REASON}"),
        InvalidRow(11, "phone: not a phone number"),
    ]
    assert (report.rows_read, report.imported, report.invalid) == (9, 3, 6)
    assert report.members_added == 3
    assert report.list_name == "residents"
    stored = _contacts(engine)
    assert set(stored) == {"+8613812345678", "+8613912345678", "+862988123456"}
    first = stored["+8613812345678"]
    assert (first["line_type"], first["area"], first["district"], first["name"],
            first["tags"]) == ("mobile", "residential", "丈八街道", "王伟", "志愿者,楼长")
    assert stored["+8613912345678"]["area"] == "work"
    landline = stored["+862988123456"]
    assert (landline["line_type"], landline["area"], landline["tags"]) == (
        "fixed_line", None, "商户")
    assert list_sizes(engine) == [ListSize("residents", 3)]


def test_reimport_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, MIXED)
    first = import_contacts(engine, path, "residents", "CN")
    before = (_contacts(engine), _count(engine, list_members), _count(engine, contact_lists))
    again = import_contacts(engine, path, "residents", "CN")
    assert (again.rows_read, again.imported, again.invalid) == (
        first.rows_read, first.imported, first.invalid)
    assert again.members_added == 0
    assert (_contacts(engine), _count(engine, list_members),
            _count(engine, contact_lists)) == before


def test_one_person_in_two_lists_is_one_contact(engine: Engine, tmp_path: Path) -> None:
    residents = _write(tmp_path, "phone,area,district,name,tags\n"
                                 "13812345678,residential,丈八街道,王伟,志愿者\n"
                                 "13912345678,residential,丈八街道,,\n", "residents.csv")
    workers = _write(tmp_path, "phone,area,district\n"
                               "+86 138-1234-5678,,\n", "workers.csv")
    import_contacts(engine, residents, "residents", "CN")
    report = import_contacts(engine, workers, "workers", "CN")
    assert report.members_added == 1
    stored = _contacts(engine)
    assert len(stored) == 2
    # empty cells in the second file do not erase what the first one said
    person = stored["+8613812345678"]
    assert (person["area"], person["district"], person["name"], person["tags"]) == (
        "residential", "丈八街道", "王伟", "志愿者")
    assert _count(engine, list_members) == 3
    assert list_sizes(engine) == [ListSize("residents", 2), ListSize("workers", 1)]
    assert list_names(engine) == frozenset({"residents", "workers"})

    # a filled cell replaces the stored value
    moved = _write(tmp_path, "phone,area,district\n13812345678,work,细柳街道\n", "moved.csv")
    import_contacts(engine, moved, "workers", "CN")
    person = _contacts(engine)["+8613812345678"]
    assert (person["area"], person["district"], person["name"]) == ("work", "细柳街道", "王伟")


def test_same_phone_twice_in_a_file_across_batches(engine: Engine, tmp_path: Path) -> None:
    lines = ["phone,area,district,name"]
    for i in range(10):
        lines.append(f"1381234567{i},residential,丈八街道,")
    lines.append("138 1234 5670,,,张三")  # same as the first row, in the same or a later batch
    lines.append("+8613812345671,work,,")
    progress: list[tuple[int, int]] = []
    path = _write(tmp_path, "\n".join(lines) + "\n")
    report = import_contacts(engine, path, "x", "CN", batch_size=3,
                             progress=lambda b, r: progress.append((b, r)))
    assert (report.rows_read, report.imported, report.members_added) == (12, 12, 10)
    stored = _contacts(engine)
    assert len(stored) == 10
    assert stored["+8613812345670"]["name"] == "张三"
    assert stored["+8613812345670"]["area"] == "residential"
    assert stored["+8613812345671"]["area"] == "work"
    assert progress[-1] == (path.stat().st_size, 12)
    assert [rows for _, rows in progress] == sorted(rows for _, rows in progress)
    assert len(progress) >= 4


def test_unknown_column_is_an_error_before_anything_is_imported(
        engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "phone,area,district,email,age\n13812345678,work,丈八街道,a@b.c,30\n")
    with pytest.raises(ImportFileError) as caught:
        import_contacts(engine, path, "residents", "CN")
    message = str(caught.value)
    assert message.startswith(f"{path}:1: unknown column(s) 'email', 'age'")
    assert "allowed: phone, area, district, name, tags" in message
    assert _count(engine, contacts) == 0
    assert list_names(engine) == frozenset()


def test_missing_required_column(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "phone,name\n13812345678,王伟\n")
    with pytest.raises(ImportFileError, match=r"missing required column.*area, district"):
        import_contacts(engine, path, "residents", "CN")
    with pytest.raises(ImportFileError, match="empty"):
        import_contacts(engine, _write(tmp_path, "", "empty.csv"), "residents", "CN")
    assert _count(engine, contacts) == 0


def test_bom_and_header_case_and_order(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeffTags, District ,AREA,Phone\n"
                            "志愿者,丈八街道,street,13812345678\n")
    report = import_contacts(engine, path, "residents", "CN")
    assert (report.imported, report.invalid) == (1, 0)
    person = _contacts(engine)["+8613812345678"]
    assert (person["area"], person["district"], person["tags"]) == ("street", "丈八街道", "志愿者")


def test_streams_binary_and_text(engine: Engine) -> None:
    data = "phone,area,district\n13812345678,work,丈八街道\n"
    report = import_contacts(engine, io.BytesIO(("\ufeff" + data).encode()), "a", "CN")
    assert (report.imported, report.source) == (1, "<stream>")
    report = import_contacts(engine, io.StringIO(data), "b", "CN")
    assert (report.imported, report.members_added) == (1, 1)
    assert len(_contacts(engine)) == 1


def test_extra_fields_and_short_rows(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "phone,area,district\n"
                            "13812345678,work,丈八街道,surprise\n"
                            "13912345678,work,丈八街道,,\n"  # trailing empty fields are fine
                            "15012345678\n")  # missing trailing cells are empty
    report = import_contacts(engine, path, "residents", "CN")
    assert report.invalid_rows == [
        InvalidRow(2, "more fields than the 3 columns of the header")]
    assert report.imported == 2
    assert _contacts(engine)["+8615012345678"]["area"] is None


FIELD_LIMIT = "a field is longer than 131,072 characters"
LONG_LINE = f"the line is longer than {MAX_LINE_CHARS:,} characters"
HUGE = 1_000_000


def test_a_too_long_field_is_one_skipped_row(engine: Engine, tmp_path: Path) -> None:
    """Each shape of oversized row costs its own line; the rows around it are imported."""
    lines = ["phone,area,district,name",
             "13800000001,work,丈八街道,",                         # 2
             "13800000002,work," + "x" * HUGE + ",",              # 3 plain ASCII field
             "13800000003,work,丈八街道,",                         # 4
             '13800000004,work,"' + "街" * HUGE + '",',           # 5 quoted Chinese field
             "13800000005,work,丈八街道,",                         # 6
             "13800000006,work,丈八街道," + "名,_%-" * HUGE,        # 7 over MAX_LINE_CHARS
             "13800000007,work,丈八街道,",                         # 8
             "+86" + "9" * HUGE + ",,,",                          # 9 huge phone
             "13800000009,work,丈八街道,"]                         # 10, no newline at the end
    path = _write(tmp_path, "\n".join(lines))
    progress: list[tuple[int, int]] = []
    report = import_contacts(engine, path, "big-fields", "CN", batch_size=2,
                             progress=lambda b, r: progress.append((b, r)))
    assert report.invalid_rows == [InvalidRow(3, FIELD_LIMIT), InvalidRow(5, FIELD_LIMIT),
                                   InvalidRow(7, LONG_LINE), InvalidRow(9, FIELD_LIMIT)]
    assert (report.rows_read, report.imported, report.invalid) == (9, 5, 4)
    assert set(_contacts(engine)) == {f"+86138000000{i:02d}" for i in (1, 3, 5, 7, 9)}
    assert progress[-1] == (path.stat().st_size, 9)


def test_a_line_far_over_the_limit_is_skipped_without_holding_it(
        engine: Engine, tmp_path: Path) -> None:
    """Streaming holds: a 40 MB line is read in pieces, never as one string."""
    import tracemalloc

    path = tmp_path / "long-line.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,area,district\n13800000001,,\n13800000002,,")
        for _ in range(40):
            out.write("x" * (1 << 20))
        out.write("\n13800000003,,\n")
    tracemalloc.start()
    try:
        report = import_contacts(engine, path, "x", "CN")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.invalid_rows == [InvalidRow(3, LONG_LINE)]
    assert report.imported == 2
    assert peak < 12 * (1 << 20), f"peak {peak:,} bytes"


# A quote left open, in each place it happens; every valid row around it is imported.
UNCLOSED = """\
phone,area,district,name,tags
13800000001,residential,丈八街道,王伟,
13800000002,residential,"丈八街道,王伟,
13800000003,work,细柳街道,,
"13800000004,work,细柳街道,,
13800000005,work,"细柳街道",李娜,"志愿者,楼长"
13800000006,work,细柳街道,"李娜,
"13800000007",work,细柳街道,,
13800000008,work,"东大
街道",,
13800000009,work,細柳街道,"張三 ""老張"",
13800000010,work,"%_-",,
13800000011,work,丈八街道,"王"""


def test_an_unclosed_quote_spoils_only_its_own_line(engine: Engine, tmp_path: Path) -> None:
    report = import_contacts(engine, _write(tmp_path, UNCLOSED), "residents", "CN")
    assert report.invalid_rows == [
        InvalidRow(3, UNCLOSED_QUOTE),   # open in the district: the next row is not swallowed
        InvalidRow(5, UNCLOSED_QUOTE),   # open in the phone
        InvalidRow(7, UNCLOSED_QUOTE),   # open in the name
        InvalidRow(9, UNCLOSED_QUOTE),   # a line break inside quotes (Alt+Enter in Excel)
        InvalidRow(10, "phone: not a phone number"),  # ...whose second half is no row
        InvalidRow(11, UNCLOSED_QUOTE),  # open after an escaped quote ("")
        InvalidRow(13, UNCLOSED_QUOTE),  # open on the last line, no newline after it
    ]
    assert (report.rows_read, report.imported, report.invalid) == (12, 5, 7)
    stored = _contacts(engine)
    assert set(stored) == {f"+86138000000{i:02d}" for i in (1, 3, 5, 7, 10)}
    assert stored["+8613800000003"]["district"] == "细柳街道"  # read alone, not swallowed
    assert stored["+8613800000005"]["tags"] == "志愿者,楼长"
    assert stored["+8613800000007"]["district"] == "细柳街道"
    assert stored["+8613800000010"]["district"] == "%_-"
    assert all("\n" not in str(v) for row in stored.values() for v in row.values())


def test_a_header_with_an_open_quote_stops_before_anything(
        engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, 'phone,area,"district\n13800000001,,\n')
    with pytest.raises(ImportFileError, match=r":1: the header is not a CSV line: a quote"):
        import_contacts(engine, path, "x", "CN")
    assert _count(engine, contacts) == 0


def test_not_utf8_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "phone,area,district\n13812345678,work,丈八街道\n", encoding="gbk")
    with pytest.raises(ImportFileError, match=r":2: not UTF-8 text"):
        import_contacts(engine, path, "residents", "CN")


def test_only_the_first_invalid_rows_are_kept(engine: Engine, tmp_path: Path) -> None:
    bad = MAX_INVALID_DETAILS + 250
    text = "phone,area,district\n" + "nope,,\n" * bad + "13812345678,,\n"
    report = import_contacts(engine, _write(tmp_path, text), "x", "CN")
    assert report.invalid == bad
    assert len(report.invalid_rows) == MAX_INVALID_DETAILS
    assert report.invalid_rows[-1].line == MAX_INVALID_DETAILS + 1
    assert report.imported == 1


def test_list_name_is_checked(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, "phone,area,district\n13812345678,,\n")
    with pytest.raises(Exception, match="1 to 128 characters"):
        import_contacts(engine, path, "  ", "CN")


@pytest.mark.slow
def test_import_200k_generated_rows(engine: Engine, tmp_path: Path) -> None:
    count = 200_000
    mix = SampleMix(invalid_rate=0.005, landline_rate=0.02, repeat_rate=0.01)
    path = tmp_path / "big.csv"
    write_csv(path, count, seed=2019, mix=mix)
    expected: set[str] = set()
    invalid = 0
    for row in sample_contacts(count, seed=2019, mix=mix):
        try:
            expected.add(normalize(row.phone, "CN").e164)
        except ValueError:
            invalid += 1
    report = import_contacts(engine, path, "big", "CN")
    assert (report.rows_read, report.invalid, report.imported) == (
        count, invalid, count - invalid)
    assert report.members_added == len(expected)
    assert _count(engine, contacts) == len(expected)
    assert list_sizes(engine) == [ListSize("big", len(expected))]
    again = import_contacts(engine, path, "big", "CN")
    assert again.members_added == 0
    assert _count(engine, contacts) == len(expected)


# --- the command line ---------------------------------------------------------------


def _run(app: AppContext, *args: str) -> Any:
    return CliRunner().invoke(contacts_command, list(args), obj=app)


def test_cli_import_prints_summary_and_invalid_rows(cli_app: AppContext, tmp_path: Path) -> None:
    path = _write(tmp_path, MIXED)
    result = _run(cli_app, "import", str(path), "--list", "residents", "--show-invalid", "2")
    assert result.exit_code == 0, result.output
    assert f"{path}:3: phone: not a phone number" in result.stderr
    assert f"{path}:6: area 'home' {AREA_REASON}" in result.stderr
    assert f"{path}:7:" not in result.stderr
    assert "4 more invalid rows (6 in all)" in result.stderr
    assert ("imported 3 of 9 rows into list 'residents' (3 new members; "
            "6 invalid rows skipped)") in result.stdout

    result = _run(cli_app, "import", str(path), "--list", "residents", "--json")
    report = json.loads(result.stdout)
    assert (report["imported"], report["members_added"], report["invalid"]) == (3, 0, 6)
    assert report["invalid_rows"][0] == {"line": 3,
                                         "reason": "phone: not a phone number"}

    result = _run(cli_app, "lists", "--json")
    assert json.loads(result.stdout) == [{"name": "residents", "members": 3}]
    assert "residents" in _run(cli_app, "lists").stdout


def test_cli_import_prints_skipped_lines_and_their_count(cli_app: AppContext,
                                                         tmp_path: Path) -> None:
    path = _write(tmp_path, "phone,area,district\n"
                            "13800000001,,丈八街道\n"
                            "13800000002,," + "x" * HUGE + "\n"
                            '13800000003,,"丈八街道\n'
                            "13800000004,,细柳街道\n")
    result = _run(cli_app, "import", str(path), "--list", "residents")
    assert result.exit_code == 0, result.output
    assert f"{path}:3: {FIELD_LIMIT}" in result.stderr
    assert f"{path}:4: {UNCLOSED_QUOTE}" in result.stderr
    assert "importing" in result.stderr  # the progress bar is still drawn
    assert ("imported 2 of 4 rows into list 'residents' (2 new members; "
            "2 invalid rows skipped)") in result.stdout
    assert "Traceback" not in result.output


def test_cli_import_exits_1_when_nothing_valid(cli_app: AppContext, tmp_path: Path) -> None:
    path = _write(tmp_path, "phone,area,district\nnope,,\n")
    result = _run(cli_app, "import", str(path), "--list", "residents")
    assert result.exit_code == 1
    assert "no valid rows; nothing was imported" in result.stderr

    path = _write(tmp_path, "phone,area,district,fax\n", "bad.csv")
    result = _run(cli_app, "import", str(path), "--list", "residents")
    assert result.exit_code == 1
    assert isinstance(result.exception, ImportFileError)
    assert "unknown column(s) 'fax'" in str(result.exception)


def test_cli_generate_then_import(cli_app: AppContext, tmp_path: Path) -> None:
    out = tmp_path / "sample.csv"
    args = ["generate", "--count", "3000", "--out", str(out), "--seed", "5",
            "--invalid-rate", "0.02", "--landline-rate", "0", "--repeat-rate", "0"]
    result = _run(cli_app, *args)
    assert result.exit_code == 0, result.output
    assert "wrote 3,000 sample contacts (seed 5)" in result.stdout
    content = out.read_bytes()
    assert _run(cli_app, *args).exit_code == 0
    assert out.read_bytes() == content  # deterministic

    result = _run(cli_app, "import", str(out), "--list", "demo", "--json")
    report = json.loads(result.stdout)
    assert report["rows_read"] == 3000
    assert 30 <= report["invalid"] <= 90
    assert report["members_added"] == report["imported"] == 3000 - report["invalid"]


def test_cli_help_on_every_command() -> None:
    for name in ("import", "lists", "generate"):
        result = CliRunner().invoke(contacts_command, [name, "--help"])
        assert result.exit_code == 0
        assert len(result.output.splitlines()) > 4
