"""Pure helpers: shard matching, file parsing, the sensor's file tracking, settings."""

import io
import re

import pytest

from tributary.contracts.filesystem import FileTable
from tributary.contracts.sql_database import SqlTable, matching_tables
from tributary.ingest.kinds.filesystem.read import read_rows
from tributary.ingest.kinds.filesystem.sensor import changed_files, matching_files
from tributary.settings import PROJECT_ROOT, Settings


def test_shards_match_by_glob_and_tables_by_name():
    names = ["orders_2024", "orders_2025", "orders_archive", "order_lines", "products"]
    shards = SqlTable(name="orders", shards="orders_[0-9][0-9][0-9][0-9]")
    assert matching_tables(names, shards) == ["orders_2024", "orders_2025"]
    assert matching_tables(names, SqlTable(name="products")) == ["products"]
    assert matching_tables(names, SqlTable(name="lines", table="order_lines")) == ["order_lines"]


def test_gbk_file_keeps_chinese_headers_text_values_and_lines():
    content = '发票号,金额(USD),日期\nINV-1,"1,234.50",2024年3月5日\nINV-2,007,2024年2月29日\n'
    table = FileTable(name="invoices", glob="*.csv", encoding="gbk")
    [rows] = read_rows(lambda: io.BytesIO(content.encode("gbk")), "invoices_1.csv", table)
    assert rows[0] == {
        "发票号": "INV-1",
        "金额(USD)": "1,234.50",
        "日期": "2024年3月5日",
        "_file_name": "invoices_1.csv",
        "_line": 2,
    }
    assert rows[1]["金额(USD)"] == "007"  # text stays text: no leading zeros lost
    assert rows[1]["_line"] == 3


def test_undecodable_file_names_file_and_line():
    table = FileTable(name="invoices", glob="*.csv", encoding="utf-8")
    content = b"a,b\n1,2\n" + "发票".encode("gbk") + b",3\n"
    with pytest.raises(ValueError, match=r"invoices_2.csv: line 3, column 1: not valid utf-8"):
        read_rows(lambda: io.BytesIO(content), "invoices_2.csv", table)


def test_sensor_sees_matching_new_and_redelivered_files(tmp_path):
    (tmp_path / "invoices_20251231.csv").write_text("x")
    (tmp_path / "payments_20251231.csv").write_text("x")
    (tmp_path / ".invoices_20260101.csv.tmp").write_text("half")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "invoices_old.csv").write_text("x")
    current = matching_files(tmp_path, ["invoices_*.csv", "**/invoices_*.csv"])
    assert sorted(current) == ["invoices_20251231.csv", "sub/invoices_old.csv"]
    assert changed_files(current, {}) == sorted(current)
    assert changed_files(current, dict(current)) == []
    assert changed_files(current, {**current, "invoices_20251231.csv": 0.0}) == [
        "invoices_20251231.csv"
    ]
    assert matching_files(tmp_path / "missing", ["*.csv"]) == {}


def test_profile_default_warehouse_matches_settings_default():
    # dbt run by hand (without --vars) must open the same file the platform writes.
    profile = (PROJECT_ROOT / "dbt_project" / "profiles.yml").read_text()
    default = re.search(r"env_var\('TRIBUTARY_WAREHOUSE', '([^']+)'\)", profile).group(1)
    resolved = (PROJECT_ROOT / "dbt_project" / default).resolve()
    assert resolved == Settings.from_env({}).warehouse
