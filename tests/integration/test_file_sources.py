"""File sources through dlt into a temporary DuckDB: formats, encodings, bad files, re-delivery.

Every fixture file is generated here at test time, in the encodings real exports use.
"""

import csv
import datetime as dt
import gzip
import io
import json
import os
import time
from pathlib import Path

import duckdb
import openpyxl
import pyarrow as pa
import pytest
from pyarrow import parquet

from tributary.contracts.source import SourceSpec, SpecErrors, load_spec
from tributary.ingest.kinds.filesystem.source import file_error_counts
from tributary.ingest.pipeline import pipeline_for
from tributary.ingest.sources import build_source
from tributary.settings import Settings

INVOICE_HEADER = ["发票号", "金额(USD)", "日期"]
INVOICES = [["INV-1", "1,234.50", "2024年3月5日"], ["INV-2", "007", "2024年2月29日"]]
START = time.time() - 3600  # modification times are set explicitly, so order is certain


def delimited(rows: list[list[str]], encoding: str, delimiter: str = ",") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def deliver(folder: Path, name: str, content: bytes, minute: int) -> Path:
    """Write a file as an export job would, with a modification time `minute`s after START."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (START + 60 * minute, START + 60 * minute))
    return path


def write_spec(folder: Path, tables: str, naming: str = "duck_case") -> SourceSpec:
    path = folder / "exports.yaml"
    path.write_text(
        f"name: exports\nkind: filesystem\nnaming: {naming}\nfilesystem:\n"
        f"  bucket_url: ${{EXPORTS}}\n  tables:\n{tables}",
        encoding="utf-8",
    )
    return load_spec(path)


def load(spec: SourceSpec, settings: Settings, folder: Path) -> dict[str, int]:
    """One run of the source; the rows each table received."""
    pipeline = pipeline_for(spec, settings)
    pipeline.run(build_source(spec, environ={"EXPORTS": str(folder)})).raise_on_failed_jobs()
    return pipeline.last_trace.last_normalize_info.row_counts


def query(settings: Settings, sql: str, *params: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def column_types(settings: Settings, table: str) -> dict[str, str]:
    rows = query(
        settings,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw_exports' and table_name = ?",
        table,
    )
    return {name: kind for name, kind in rows if not name.startswith("_dlt")}


def excel_workbook() -> bytes:
    """A cover sheet first, then the data under a title: sheet and header row both matter."""
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active["A1"] = "read the other sheet"
    sheet = book.create_sheet("数据")
    sheet["A1"] = "Invoices, March"
    sheet.append([])
    sheet.append(["发票号", "金额", "数量", "日期", "文本日期"])
    sheet.append(["007", 1234.5, 42, dt.datetime(2024, 3, 5), "2024年3月5日"])
    sheet.append([])  # a blank row in the middle is skipped, not a record
    sheet.append(["INV-9", "1,234.50", 3.0, dt.datetime(2024, 3, 6, 14, 30), None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def parquet_file() -> bytes:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "code": ["007", "010"],
            "amount": [1234.5, None],
            "at": pa.array([dt.datetime(2024, 3, 5, 8, 0), None], pa.timestamp("us", "UTC")),
        }
    )
    out = io.BytesIO()
    parquet.write_table(table, out)
    return out.getvalue()


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> Settings:
    """One source with a table per format and encoding, loaded once for the tests below."""
    root = tmp_path_factory.mktemp("formats")
    folder = root / "exports"
    header = ["id", "名称", "金额"]
    deliver(folder, "gbk.csv", delimited([INVOICE_HEADER, *INVOICES], "gbk"), 1)
    deliver(folder, "bom.csv", delimited([header, ["001", "甲", "1,5"]], "utf-8-sig", ";"), 1)
    deliver(folder, "utf16.tsv", delimited([header, ["002", "乙, 丙", "2"]], "utf-16", "\t"), 1)
    deliver(
        folder, "zipped.csv.gz", gzip.compress(delimited([header, ["003", "庚", "3"]], "gbk")), 1
    )
    # auto: a UTF-8 file, and a GB18030 one whose first non-ASCII byte comes after 12,000
    # lines, past the first chunk: the reader must start over in gb18030, not lose a chunk.
    deliver(folder, "auto/utf8.csv", delimited([header, ["1", "丁", "1"]], "utf-8"), 1)
    late = [header] + [[str(i), "x", "0"] for i in range(12_000)] + [["12000", "戊", "9"]]
    deliver(folder, "auto/gb18030.csv", delimited(late, "gb18030"), 1)
    deliver(folder, "book.xlsx", excel_workbook(), 1)
    records = [{"id": 1, "amount": 12.5, "paid": True, "tags": ["a", "b"], "code": "007"}]
    deliver(folder, "array.json", json.dumps(records).encode(), 1)
    wrapped = {"meta": {"page": 1}, "data": {"items": [{"id": 2, "amount": 3}]}}
    deliver(folder, "wrapped.json", json.dumps(wrapped, ensure_ascii=False).encode("utf-16"), 1)
    lines = [json.dumps({"id": i, "名称": "己"}, ensure_ascii=False) for i in (1, 2)]
    deliver(folder, "events.jsonl", "\n\n".join(lines).encode(), 1)
    deliver(folder, "facts.parquet", parquet_file(), 1)
    spec = write_spec(
        root,
        """\
    - {name: gbk_csv, glob: gbk.csv, encoding: gbk}
    - {name: bom_csv, glob: bom.csv, delimiter: ";"}
    - {name: utf16_tsv, glob: utf16.tsv, format: tsv}
    - {name: gzipped, glob: "*.csv.gz", encoding: gbk}
    - {name: auto_csv, glob: "auto/*.csv", encoding: auto}
    - {name: sheet_by_name, glob: "*.xlsx", format: excel, sheet: 数据, header_row: 3}
    - {name: sheet_by_index, glob: "*.xlsx", format: excel, sheet: 1, header_row: 3}
    - {name: json_array, glob: array.json, format: json}
    - {name: json_records, glob: wrapped.json, format: json, records: data.items}
    - {name: json_lines, glob: "*.jsonl", format: jsonl}
    - {name: facts, glob: "*.parquet", format: parquet}
""",
    )
    settings = Settings.from_env({"TRIBUTARY_DATA_DIR": str(root / "data")})
    load(spec, settings, folder)
    return settings


def test_csv_and_tsv_keep_text_in_every_encoding(formats):
    rows = query(formats, 'select "发票号", "金额(USD)", "日期", _line from raw_exports.gbk_csv')
    assert sorted(rows) == [
        ("INV-1", "1,234.50", "2024年3月5日", 2),
        ("INV-2", "007", "2024年2月29日", 3),
    ]
    # A UTF-8 or UTF-16 byte order mark is detected; it never leaks into the first name.
    # Gzipped files are read through.
    for table, expected in [
        ("bom_csv", ("001", "甲", "1,5")),
        ("utf16_tsv", ("002", "乙, 丙", "2")),
        ("gzipped", ("003", "庚", "3")),
    ]:
        assert query(formats, f'select id, "名称", "金额" from raw_exports.{table}') == [expected]
        assert set(column_types(formats, table)) == {"id", "名称", "金额", "_file_name", "_line"}
    assert set(column_types(formats, "gbk_csv").values()) == {"VARCHAR", "BIGINT"}  # _line


def test_auto_encoding_falls_back_to_gb18030_for_the_whole_file(formats):
    by_file = query(
        formats,
        "select _file_name, count(*), max(\"名称\") filter (where id = '12000') "
        "from raw_exports.auto_csv group by 1 order by 1",
    )
    assert by_file == [("auto/gb18030.csv", 12_001, "戊"), ("auto/utf8.csv", 1, None)]
    [(lines,)] = query(
        formats,
        "select count(distinct _line) from raw_exports.auto_csv "
        "where _file_name = 'auto/gb18030.csv'",
    )
    assert lines == 12_001


def test_excel_sheet_and_header_row_give_text_with_sheet_rows(formats):
    rows = query(
        formats,
        "select * exclude (_dlt_id, _dlt_load_id) from raw_exports.sheet_by_name order by _line",
    )
    assert rows == [
        ("007", "1234.5", "42", "2024-03-05", "2024年3月5日", "book.xlsx", 4),
        ("INV-9", "1,234.50", "3", "2024-03-06 14:30:00", None, "book.xlsx", 6),
    ]
    by_index = "select * exclude (_dlt_id, _dlt_load_id) from raw_exports.sheet_by_index"
    assert sorted(query(formats, by_index), key=lambda r: r[-1]) == rows


def test_json_and_parquet_keep_native_types(formats):
    assert column_types(formats, "json_array") == {
        "id": "BIGINT",
        "amount": "DOUBLE",
        "paid": "BOOLEAN",
        "code": "VARCHAR",
        "_file_name": "VARCHAR",
        "_line": "BIGINT",
    }
    assert query(formats, "select value from raw_exports.json_array__tags order by 1") == [
        ("a",),
        ("b",),
    ]
    assert query(formats, "select id, amount, _line from raw_exports.json_records") == [(2, 3, 1)]
    assert query(formats, 'select id, "名称", _line from raw_exports.json_lines order by 1') == [
        (1, "己", 1),
        (2, "己", 3),
    ]
    assert column_types(formats, "facts") == {
        "id": "BIGINT",
        "code": "VARCHAR",
        "amount": "DOUBLE",
        "at": "TIMESTAMP WITH TIME ZONE",
        "_file_name": "VARCHAR",
        "_line": "BIGINT",
    }
    assert query(formats, "select id, code, amount, _line from raw_exports.facts order by 1") == [
        (1, "007", 1234.5, 1),
        (2, "010", None, 2),
    ]


INVOICES_YAML = "    - {name: invoices, glob: 'invoices_*.csv', encoding: gbk}\n"


def invoices(count: int, tag: str = "") -> bytes:
    rows = [[f"INV-{i}{tag}", f"{i},000.00", f"2024年3月{i}日"] for i in range(1, count + 1)]
    return delimited([INVOICE_HEADER, *rows], "gbk")


def test_new_file_is_picked_up_and_only_it_is_read(tmp_path, settings):
    spec = write_spec(tmp_path, INVOICES_YAML)
    folder = tmp_path / "exports"
    deliver(folder, "invoices_1.csv", invoices(3), 1)
    assert load(spec, settings, folder)["invoices"] == 3
    deliver(folder, "invoices_2.csv", invoices(2), 2)
    assert load(spec, settings, folder)["invoices"] == 2  # the first file is not read again
    by_file = query(settings, "select _file_name, count(*) from raw_exports.invoices group by 1")
    assert sorted(by_file) == [("invoices_1.csv", 3), ("invoices_2.csv", 2)]


def test_late_file_with_an_older_time_is_still_loaded(tmp_path, settings):
    # Regression: a max-mtime cursor skipped files copied with their old times (cp -p, unzip).
    spec = write_spec(tmp_path, INVOICES_YAML)
    folder = tmp_path / "exports"
    deliver(folder, "invoices_2.csv", invoices(2), 2)
    assert load(spec, settings, folder)["invoices"] == 2
    deliver(folder, "invoices_1.csv", invoices(3), 1)  # arrives later, an older timestamp
    assert load(spec, settings, folder)["invoices"] == 3
    by_file = query(settings, "select _file_name, count(*) from raw_exports.invoices group by 1")
    assert sorted(by_file) == [("invoices_1.csv", 3), ("invoices_2.csv", 2)]


def test_bad_files_are_reported_with_line_and_column_and_the_others_load(tmp_path, settings):
    spec = write_spec(
        tmp_path, INVOICES_YAML + "    - {name: events, glob: '*.jsonl', format: jsonl}\n"
    )
    folder = tmp_path / "exports"
    deliver(folder, "invoices_1.csv", invoices(2), 1)
    # Line 3 is GBK but its column 5 holds a byte GBK does not have.
    deliver(folder, "invoices_2.csv", invoices(1) + b"INV-\x80\x20,1,x\r\n", 1)
    # Lines 2 and 3 are fine, line 4 has a value past the header's three columns: the file
    # loads none of its rows, never half an export.
    extra = [INVOICE_HEADER, *INVOICES, ["INV-3", "1", "x", "surplus"]]
    deliver(folder, "invoices_3.csv", delimited(extra, "gbk"), 1)
    deliver(folder, "invoices_4.csv", invoices(1) + '"INV-5,1,2\r\n'.encode("gbk"), 1)
    deliver(folder, "invoices_5.csv", invoices(4), 1)
    deliver(folder, "a.jsonl", b'{"id": 1}\n{"id": 2,, }\n', 1)
    deliver(folder, "b.jsonl", b'{"id": 3}\n', 1)

    loaded = load(spec, settings, folder)

    assert loaded["invoices"] == 6
    by_file = query(settings, "select _file_name, count(*) from raw_exports.invoices group by 1")
    assert sorted(by_file) == [("invoices_1.csv", 2), ("invoices_5.csv", 4)]
    assert query(settings, "select id from raw_exports.events") == [(3,)]
    errors = query(
        settings,
        "select file, table_name, line, column_number, error, loaded_at is not null "
        "from raw_exports._file_errors order by file",
    )
    assert [e[:4] for e in errors] == [
        ("a.jsonl", "events", 2, 10),
        ("invoices_2.csv", "invoices", 3, 5),
        ("invoices_3.csv", "invoices", 4, 4),
        ("invoices_4.csv", "invoices", 3, None),
    ]
    assert "not valid gbk" in errors[1][4] and "`encoding`" in errors[1][4]
    assert "beyond the header's 3 columns" in errors[2][4]
    assert "unexpected end of data" in errors[3][4]
    assert all(e[5] for e in errors)
    # What the Dagster asset shows: failed files per table, in the last run only.
    assert file_error_counts(pipeline_for(spec, settings)) == {"invoices": 3, "events": 1}
    load(spec, settings, folder)
    assert file_error_counts(pipeline_for(spec, settings)) == {}
    assert query(settings, "select count(*) from raw_exports._file_errors") == [(4,)]


def test_redelivered_shorter_or_empty_file_replaces_its_earlier_rows(tmp_path, settings):
    spec = write_spec(tmp_path, INVOICES_YAML)
    folder = tmp_path / "exports"
    deliver(folder, "invoices_1.csv", invoices(5), 1)
    deliver(folder, "invoices_2.csv", invoices(2), 1)
    load(spec, settings, folder)

    # A merge on (file, line) alone would keep lines 4 to 6 of the first version.
    deliver(folder, "invoices_1.csv", invoices(2, tag="b"), 2)
    load(spec, settings, folder)
    rows = query(settings, 'select _file_name, "发票号" from raw_exports.invoices order by 1, 2')
    assert rows == [
        ("invoices_1.csv", "INV-1b"),
        ("invoices_1.csv", "INV-2b"),
        ("invoices_2.csv", "INV-1"),
        ("invoices_2.csv", "INV-2"),
    ]

    deliver(folder, "invoices_2.csv", invoices(0), 3)  # the header alone: no invoices now
    load(spec, settings, folder)
    left = query(settings, "select distinct _file_name from raw_exports.invoices")
    assert left == [("invoices_1.csv",)]


def test_crash_between_extract_and_load_is_repaired_by_rerunning(tmp_path, settings):
    spec = write_spec(tmp_path, INVOICES_YAML)
    folder = tmp_path / "exports"
    deliver(folder, "invoices_1.csv", invoices(3), 1)
    load(spec, settings, folder)

    deliver(folder, "invoices_2.csv", invoices(4), 2)
    deliver(folder, "invoices_1.csv", invoices(2, tag="b"), 2)
    crashed = pipeline_for(spec, settings)
    crashed.extract(build_source(spec, environ={"EXPORTS": str(folder)}))
    crashed.normalize()  # ... and the process dies before `load`

    # What the Dagster asset does on the next run: drop local state, restore, run.
    pipeline_for(spec, settings).drop()
    load(spec, settings, folder)
    count, distinct, numbers = query(
        settings,
        "select count(*), count(distinct (_file_name, _line)), "
        'list(distinct "发票号" order by "发票号") from raw_exports.invoices',
    )[0]
    assert count == distinct == 6
    assert numbers == ["INV-1", "INV-1b", "INV-2", "INV-2b", "INV-3", "INV-4"]


def test_load_modes_append_replace_and_scd2(tmp_path, settings):
    spec = write_spec(
        tmp_path,
        "".join(
            f"    - {{name: {name}, glob: '*.csv', encoding: gbk, load: {mode}}}\n"
            for name, mode in [
                ("appended", "append"),
                ("replaced", "replace"),
                ("versioned", "scd2"),
            ]
        ),
    )
    folder = tmp_path / "exports"
    deliver(folder, "invoices_1.csv", invoices(2), 1)
    deliver(folder, "invoices_2.csv", invoices(1), 1)
    load(spec, settings, folder)
    deliver(folder, "invoices_1.csv", invoices(1) + delimited([["INV-2", "changed", ""]], "gbk"), 2)
    (folder / "invoices_2.csv").unlink()
    load(spec, settings, folder)

    assert query(settings, "select count(*) from raw_exports.appended") == [(5,)]
    # replace mirrors the folder as it is now: the deleted file's rows are gone.
    replaced = query(
        settings, 'select _file_name, "金额(USD)" from raw_exports.replaced order by 2'
    )
    assert replaced == [("invoices_1.csv", "1,000.00"), ("invoices_1.csv", "changed")]
    # scd2 keeps history per re-delivered file; the untouched file's row stays current.
    versions = query(
        settings,
        'select _file_name, "金额(USD)", _dlt_valid_to is null '
        "from raw_exports.versioned order by 1, 2",
    )
    assert versions == [
        ("invoices_1.csv", "1,000.00", True),
        ("invoices_1.csv", "2,000.00", False),
        ("invoices_1.csv", "changed", True),
        ("invoices_2.csv", "1,000.00", True),
    ]


def test_declared_primary_key_keeps_the_latest_delivery_of_each_record(tmp_path, settings):
    spec = write_spec(
        tmp_path,
        "    - {name: invoices, glob: '*.csv', encoding: gbk, primary_key: 发票号}\n",
    )
    folder = tmp_path / "exports"
    deliver(folder, "invoices_1.csv", invoices(2), 1)
    load(spec, settings, folder)
    deliver(folder, "invoices_2.csv", delimited([INVOICE_HEADER, ["INV-2", "9.00", ""]], "gbk"), 2)
    load(spec, settings, folder)
    deliver(folder, "invoices_3.csv", invoices(0), 3)  # an empty export changes nothing
    load(spec, settings, folder)
    rows = query(settings, 'select "发票号", "金额(USD)", _file_name from raw_exports.invoices')
    assert sorted(rows) == [
        ("INV-1", "1,000.00", "invoices_1.csv"),
        ("INV-2", "9.00", "invoices_2.csv"),
    ]


@pytest.mark.parametrize(
    ("table", "line", "message"),
    [
        ("{name: t, glob: '*.csv', delimeter: ';'}", 9, "did you mean `delimiter`"),
        ("{name: t, glob: '*.csv', encoding: gbkk}", 9, "unknown encoding 'gbkk'"),
        ("{name: t, glob: '*.csv', encoding: rot13}", 9, "unknown encoding 'rot13'"),
        ("{name: t, glob: '*.csv',\n       sheet: 1}", 10, "excel files only, not csv"),
        ("{name: t, glob: '*.parquet', format: parquet,\n       records: a}", 10, "json files"),
        ("{name: t, glob: '*.xlsx', encoding: gbk, format: excel}", 9, "tsv files only, not excel"),
        ("{name: t, glob: '*.xlsx'}", 9, "glob matches .xlsx files: use `format: excel`"),
        ("{name: t, glob: '*.xls', format: excel}", 9, "save them as .xlsx"),
        ("{name: t, glob: '*.csv', primary_key: id, load: append}", 9, "load: merge"),
        ("{name: t, glob: '*.csv', load: upsert}", 9, "load: Input should be 'append'"),
    ],
)
def test_spec_mistakes_name_the_line(tmp_path, table, line, message):
    with pytest.raises(SpecErrors) as exc:
        write_spec(tmp_path, f"    - name: ok\n      glob: '*.csv'\n    - {table}\n")
    [error] = exc.value.errors
    assert error.line == line
    assert message in str(error)
