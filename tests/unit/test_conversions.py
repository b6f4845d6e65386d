"""The conversion macros (dbt_project/macros/convert.sql) give canonical values in DuckDB.

The macros are plain Jinja, so they are rendered here without dbt and the SQL they produce is
run on an in-memory DuckDB whose session TimeZone is New York: no result may depend on it.
"""

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import pytest

MACROS = Path(__file__).parents[2] / "dbt_project" / "macros" / "convert.sql"


def load_macros() -> Any:
    """The file's macros as a Jinja module; a dbt `test` block becomes macro `test_<name>`,
    as dbt itself does."""
    source = MACROS.read_text(encoding="utf-8")
    source = re.sub(r"\{%(-?)\s*test\s+(\w+)", r"{%\1 macro test_\2", source)
    source = re.sub(r"\{%(-?)\s*endtest\b", r"{%\1 endmacro", source)
    return jinja2.Environment().from_string(source).module


m = load_macros()


@pytest.fixture(scope="module")
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'America/New_York'")
    yield con
    con.close()


def convert(db: duckdb.DuckDBPyConnection, expression: str, inputs: list[Any]) -> list[Any]:
    """The rendered expression (over column `v`) applied to each input, in order."""
    rows = ", ".join(f"({i}, ?)" for i in range(len(inputs)))
    query = f"select {expression} from (values {rows}) as t(i, v) order by i"
    return [row[0] for row in db.execute(query, inputs).fetchall()]


def check(db: duckdb.DuckDBPyConnection, expression: str, cases: list[tuple[Any, Any]]) -> None:
    """Each (input, expected) pair holds; a failure shows the pairs side by side."""
    inputs = [raw for raw, _ in cases]
    assert list(zip(inputs, convert(db, expression, inputs), strict=True)) == cases


def test_clean_text(db):
    check(
        db,
        m.clean_text("v"),
        [
            ("  Alice ", "Alice"),
            ("ＡＢＣ１２３", "ABC123"),
            ("Ｏ＇Ｂｒｉｅｎ＠ｘ．ｃｏｍ", "O'Brien@x.com"),
            ("\u3000张三\u3000", "张三"),
            ("\u00a0x\u202f", "x"),
            ("\ufeff\tid 7\r\n", "id 7"),
            ("a  b", "a  b"),
            ("", None),
            ("   ", None),
            ("\t\u3000\u00a0", None),
            (None, None),
        ],
    )
    check(db, m.clean_text("v", case="lower"), [(" ＭiXed ", "mixed"), ("", None)])
    check(db, m.clean_text("v", case="upper"), [("ｍixed", "MIXED")])
    check(db, m.clean_text("v", halfwidth=False), [("\u3000ＡＢＣ ", "ＡＢＣ")])
    check(db, m.clean_text("v"), [(17, "17")])


def test_clean_email(db):
    check(
        db,
        m.clean_email("v"),
        [
            (" John.Doe @Example.COM ", "john.doe@example.com"),
            ("ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "john@example.com"),
            ("a\u00a0b@c.cn", "ab@c.cn"),
            ("", None),
            ("  ", None),
            (None, None),
        ],
    )


def test_to_e164_chinese_layouts(db):
    check(
        db,
        m.to_e164("v"),
        [
            ("138 1234 5678", "+8613812345678"),
            ("138-1234-5678", "+8613812345678"),
            ("+86 138 1234 5678", "+8613812345678"),
            ("8613812345678", "+8613812345678"),
            ("(0086)13812345678", "+8613812345678"),
            ("００８６ １３８１２３４５６７８", "+8613812345678"),
            ("＋８６ １３８－１２３４－５６７８", "+8613812345678"),
            ("010-1234 5678", "+861012345678"),  # landline: the trunk 0 goes
            ("0044 20 7946 0958", "+442079460958"),  # another country via 00
            ("+49 (0)30 1234567", "+49301234567"),  # the (0) trunk hint goes
            ("12345", None),  # +8612345 has 7 digits
            ("1381234567812345", None),  # 18 digits
            ("+0 1234 5678", None),  # no country code starts with 0
            ("n/a", None),
            ("", None),
            ("  ", None),
            (None, None),
        ],
    )
    check(db, m.to_e164("v"), [(13812345678, "+8613812345678")])


def test_to_e164_other_country(db):
    check(
        db,
        m.to_e164("v", country_code="+1"),
        [
            ("(212) 555-0100", "+12125550100"),
            ("1-212-555-0100", "+12125550100"),
            ("+86 138 1234 5678", "+8613812345678"),
        ],
    )
    check(db, m.to_e164("v", country_code="49"), [("030 1234567", "+49301234567")])


def test_canonical_id(db):
    check(
        db,
        m.canonical_id("v", "E%05d"),
        [
            ("S00017", "E00017"),
            ("u17", "E00017"),
            ("EMP-17", "E00017"),
            (" ｓ０００１７ ", "E00017"),
            ("123456", "E123456"),
            ("A12-B34", "E00012"),  # the first run of digits
            ("ABC", None),
            ("", None),
            (None, None),
        ],
    )
    check(db, m.canonical_id("v", "E%05d"), [(17, "E00017"), (17.0, "E00017")])
    check(db, m.canonical_id("v", "O'%03d"), [("x7", "O'007")])


def test_parse_decimal_dot_convention(db):
    check(
        db,
        m.parse_decimal("v"),
        [
            ("¥12,345.00", Decimal("12345.00")),
            ("$ 1,234.5", Decimal("1234.50")),
            ("CNY 9,800", Decimal("9800")),
            ("9800元", Decimal("9800")),
            ("USD 1\u202f234.56", Decimal("1234.56")),
            ("１，２３４．５", Decimal("1234.5")),
            ("-1,234.50", Decimal("-1234.50")),
            ("¥-12", Decimal("-12")),
            ("(1,234.50)", Decimal("-1234.50")),
            ("(¥ 80)", Decimal("-80")),
            ("0.005", Decimal("0.01")),  # rounded to the scale
            ("1.2.3", None),
            ("1,234,567.89", Decimal("1234567.89")),
            ("1.5E+3", Decimal("1500")),
            # text that is a number only in the other convention, or with stray letters, is
            # unreadable (and reported), never read as a different amount
            ("1.234,50", None),
            ("1 234,50", None),
            ("12abc34", None),
            ("abc", None),
            ("-", None),
            ("", None),
            ("  ", None),
            (None, None),
        ],
    )


def test_parse_decimal_comma_convention(db):
    check(
        db,
        m.parse_decimal("v", decimal_mark=","),
        [
            ("1.234,50", Decimal("1234.50")),
            ("1 234,5", Decimal("1234.5")),
            ("1\u00a0234,5 €", Decimal("1234.5")),
            ("€ 1.234.567,89", Decimal("1234567.89")),
            ("-1.234,5", Decimal("-1234.5")),
            ("(1.234,50 €)", Decimal("-1234.50")),
            ("0,5", Decimal("0.5")),
            ("1.234", Decimal("1234")),  # '.' is a thousands separator here
            ("1,2,3", None),
            ("", None),
        ],
    )


def test_parse_decimal_numeric_input(db):
    # The text of a double can be '1e-05': numbers must be cast, not read as text.
    cases = [(1234.5, Decimal("1234.50")), (1e-05, Decimal("0.00")), (-3.0, Decimal("-3.00"))]
    check(db, m.parse_decimal("v", decimal_mark=","), cases)
    check(db, m.parse_decimal("v"), [(1234, Decimal("1234")), (10**20, None)])


def test_parse_decimal_type_and_scale(db):
    assert convert(db, f"typeof({m.parse_decimal('v')})", ["1"]) == ["DECIMAL(18,2)"]
    check(db, m.parse_decimal("v", scale=4), [("1,234.56789", Decimal("1234.5679"))])


def test_parse_date_strptime_formats(db):
    check(
        db,
        m.parse_date("v", ["%d/%m/%Y", "%Y年%m月%d日", "iso"]),
        [
            ("29/02/2024", date(2024, 2, 29)),
            ("29/02/2023", None),
            ("05/03/2024", date(2024, 3, 5)),
            ("5/3/2024", date(2024, 3, 5)),
            ("2024年3月5日", date(2024, 3, 5)),
            ("2024年03月05日", date(2024, 3, 5)),
            ("２０２４年３月５日", date(2024, 3, 5)),
            ("０５／０３／２０２４", date(2024, 3, 5)),
            ("2024-03-05", date(2024, 3, 5)),
            ("2024-03-05T10:00:00", date(2024, 3, 5)),
            ("2024-03-05T23:30:00-05:00", date(2024, 3, 5)),  # iso: the date as written
            ("2023-02-29", None),
            ("soon", None),
            ("", None),
            ("   ", None),
            (None, None),
        ],
    )


def test_parse_date_first_format_wins(db):
    # 03/05/2024 is 3 May for a day-first source and 5 March for a month-first one.
    check(db, m.parse_date("v", ["%d/%m/%Y", "%m/%d/%Y"]), [("03/05/2024", date(2024, 5, 3))])
    check(db, m.parse_date("v", ["%m/%d/%Y", "%d/%m/%Y"]), [("03/05/2024", date(2024, 3, 5))])
    check(db, m.parse_date("v", ["%m/%d/%Y", "%d/%m/%Y"]), [("13/05/2024", date(2024, 5, 13))])


def test_parse_date_offset_format_gives_utc_date(db):
    formats = ["%Y-%m-%d %H:%M %z"]
    check(db, m.parse_date("v", formats), [("2024-03-05 23:30 -05:00", date(2024, 3, 6))])


def test_parse_date_epochs(db):
    # 1709604000 is 2024-03-05 02:00 UTC, still 4 March in the session's New York.
    check(
        db,
        m.parse_date("v", ["epoch_s"]),
        [("1709604000", date(2024, 3, 5)), ("1e30", None), ("abc", None), ("", None)],
    )
    check(db, m.parse_date("v", ["epoch_s"]), [(1709604000, date(2024, 3, 5))])
    check(
        db,
        m.parse_date("v", ["epoch_ms"]),
        [("1709604000000", date(2024, 3, 5)), ("1709604000", date(1970, 1, 20))],
    )
    check(db, m.parse_date("v", ["epoch_ms"]), [(1709604000000, date(2024, 3, 5))])
    check(
        db,
        m.parse_date("v", ["%d/%m/%Y", "epoch_ms"]),
        [("05/03/2024", date(2024, 3, 5)), ("1709604000000", date(2024, 3, 5))],
    )


def test_parse_date_excel_serials(db):
    check(
        db,
        m.parse_date("v", ["excel_serial"]),
        [
            ("45292", date(2024, 1, 1)),
            ("45292.75", date(2024, 1, 1)),
            ("1", date(1900, 1, 1)),
            ("59", date(1900, 2, 28)),
            ("60", None),  # Excel's 1900-02-29, a day that never was
            ("61", date(1900, 3, 1)),
            ("2958465", date(9999, 12, 31)),
            ("2958466", None),
            ("0", None),
            ("-5", None),
            ("", None),
        ],
    )
    check(db, m.parse_date("v", ["excel_serial"]), [(45292, date(2024, 1, 1))])


def test_parse_date_unknown_format_fails_loudly(db):
    with pytest.raises(duckdb.InvalidInputException, match="unknown format epoch"):
        convert(db, m.parse_date("v", ["epoch"]), ["1"])


def test_parse_timestamp_offsets_to_utc(db):
    check(
        db,
        m.parse_timestamp("v"),
        [
            ("2024-03-05T10:00:00+08:00", datetime(2024, 3, 5, 2)),
            ("2024-03-05T10:00:00-05:00", datetime(2024, 3, 5, 15)),
            ("2024-03-05T10:00:00Z", datetime(2024, 3, 5, 10)),
            ("2024-03-05 10:00:00.5+0800", datetime(2024, 3, 5, 2, 0, 0, 500000)),
            ("2024-03-05T10:00+08", datetime(2024, 3, 5, 2)),
            ("2024-03-05T10:00:00", datetime(2024, 3, 5, 10)),  # naive, read as UTC
            ("2024-03-05", datetime(2024, 3, 5)),
            ("２０２４－０３－０５Ｔ１０：００：００Ｚ", datetime(2024, 3, 5, 10)),
            ("yesterday", None),
            ("", None),
            (" ", None),
            (None, None),
        ],
    )


def test_parse_timestamp_berlin_dst(db):
    check(
        db,
        m.parse_timestamp("v", timezone="Europe/Berlin"),
        [
            ("2024-01-15 12:00", datetime(2024, 1, 15, 11)),  # CET, +01:00
            ("2024-07-15 12:00", datetime(2024, 7, 15, 10)),  # CEST, +02:00
            ("2024-03-31 01:59", datetime(2024, 3, 31, 0, 59)),
            # 02:00-03:00 does not exist on 31 March: read with the offset before (+01:00).
            ("2024-03-31 02:30", datetime(2024, 3, 31, 1, 30)),
            ("2024-03-31 03:00", datetime(2024, 3, 31, 1)),
            # 02:30 happens twice on 27 October: the second time (standard time, +01:00).
            ("2024-10-27 02:30", datetime(2024, 10, 27, 1, 30)),
            ("2024-10-27 01:30", datetime(2024, 10, 26, 23, 30)),
            ("2024-10-27 03:30", datetime(2024, 10, 27, 2, 30)),
            ("2024-03-05T10:00:00+08:00", datetime(2024, 3, 5, 2)),  # an offset wins
        ],
    )


def test_parse_timestamp_new_york_dst(db):
    check(
        db,
        m.parse_timestamp("v", ["%m/%d/%Y %H:%M"], timezone="America/New_York"),
        [
            ("07/04/2024 12:00", datetime(2024, 7, 4, 16)),
            ("03/10/2024 02:30", datetime(2024, 3, 10, 7, 30)),  # gap: read as EST
            ("11/03/2024 01:30", datetime(2024, 11, 3, 6, 30)),  # ambiguous: EST
        ],
    )


def test_parse_timestamp_strptime_formats(db):
    check(
        db,
        m.parse_timestamp("v", ["%Y年%m月%d日 %H:%M", "%d/%m/%Y %H:%M %z"], "Asia/Shanghai"),
        [
            ("2024年3月5日 08:00", datetime(2024, 3, 5)),
            ("２０２４年３月５日 ０８：００", datetime(2024, 3, 5)),
            ("05/03/2024 10:00 +0800", datetime(2024, 3, 5, 2)),
            ("05/03/2024 10:00 -0500", datetime(2024, 3, 5, 15)),
            ("05/03/2024", None),
        ],
    )


def test_parse_timestamp_epochs_are_utc(db):
    check(
        db,
        m.parse_timestamp("v", ["epoch_s"], timezone="Asia/Shanghai"),
        [
            ("1709596800", datetime(2024, 3, 5)),
            ("1709596800.5", datetime(2024, 3, 5, 0, 0, 0, 500000)),
            ("-86400", datetime(1969, 12, 31)),
            ("1e30", None),
        ],
    )
    check(
        db,
        m.parse_timestamp("v", ["epoch_ms"], timezone="Asia/Shanghai"),
        [("1709596800123", datetime(2024, 3, 5, 0, 0, 0, 123000)), ("x", None)],
    )
    check(
        db,
        m.parse_timestamp("v", ["epoch_ms"]),
        [(1709596800123, datetime(2024, 3, 5, 0, 0, 0, 123000))],
    )


def test_parse_timestamp_excel_serials_are_local(db):
    check(
        db,
        m.parse_timestamp("v", ["excel_serial"], timezone="Asia/Shanghai"),
        [
            ("45292.75", datetime(2024, 1, 1, 10)),  # 18:00 in Shanghai
            ("45292.5416666667", datetime(2024, 1, 1, 5)),  # 13:00, to the millisecond
            ("45292", datetime(2023, 12, 31, 16)),
            ("60", None),
        ],
    )


def test_parse_timestamp_type(db):
    expression = f"typeof({m.parse_timestamp('v', ['iso', 'epoch_s'])})"
    assert convert(db, expression, ["2024-03-05T10:00:00Z"]) == ["TIMESTAMP"]


@pytest.mark.parametrize("session_zone", ["UTC", "Asia/Shanghai", "Pacific/Chatham"])
def test_results_do_not_depend_on_session_time_zone(session_zone):
    values = ["2024-03-31 02:30", "2024-03-05T23:30:00-05:00", "1709604000", "45292.75"]
    formats = ["%Y-%m-%dT%H:%M:%S%z", "iso", "excel_serial", "epoch_s"]
    expressions = [
        m.parse_timestamp("v", formats, timezone="Europe/Berlin"),
        m.parse_date("v", ["%Y-%m-%dT%H:%M:%S%z", "iso", "excel_serial", "epoch_s"]),
    ]
    results = []
    for zone in ["America/New_York", session_zone]:
        with duckdb.connect() as con:
            con.execute(f"set TimeZone = '{zone}'")
            results.append([convert(con, expression, values) for expression in expressions])
    assert results[0] == results[1]
    assert results[0][1] == [
        date(2024, 3, 31),
        date(2024, 3, 6),  # a %z format gives the UTC date
        date(2024, 3, 5),
        date(2024, 1, 1),
    ]


GENDER = {"M": "M", "男": "M", "F": "F", "女": "F", "O'Brien": "O'B", " Yes ": "Y"}


def test_map_code(db):
    check(
        db,
        m.map_code("v", GENDER, when_missing="U"),
        [
            ("M", "M"),
            ("m", "M"),
            (" m ", "M"),
            ("Ｍ", "M"),
            ("男", "M"),
            ("女", "F"),
            ("f", "F"),
            ("o'brien", "O'B"),
            ("YES", "Y"),  # keys are trimmed and lowered too
            ("X", None),
            ("unknown", None),
            ("", "U"),
            ("   ", "U"),
            ("\u3000", "U"),
            (None, "U"),
        ],
    )
    check(db, m.map_code("v", GENDER), [("", None), (None, None), ("男", "M"), ("X", None)])
    check(db, m.map_code("v", {"a": "b"}, when_missing="n'a"), [(None, "n'a")])


def test_mapped_codes_lists_unmapped_values(db):
    db.execute("create or replace temp table people (gender varchar)")
    db.executemany(
        "insert into people values (?)",
        [[v] for v in ["M", "m", "男", "Ｆ", "O'Brien", "X", "X", " x", "unknown", None, "", "  "]],
    )
    rows = db.execute(m.test_mapped_codes("people", "gender", GENDER)).fetchall()
    assert sorted(rows) == [(" x", 1), ("X", 2), ("unknown", 1)]
    rows = db.execute(m.test_mapped_codes("people", "gender", {})).fetchall()
    assert sum(n for _, n in rows) == 9  # every non-empty value
