"""DemoEnterprise on disk: the persisted clock, the SQLite ERP and the GBK finance exports."""

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from demo_enterprise import DemoEnterprise, simulate

HEADERS = {
    "invoices": "发票号,订单号,客户编号,金额(USD),日期",
    "payments": "付款单号,发票号,金额(USD),付款日期",
    "fx_rates": "日期,币种,兑美元汇率",
}


def test_clock_persists_and_refuses_other_arguments(tmp_path: Path) -> None:
    demo = DemoEnterprise(tmp_path, seed=9, scale=0.1)
    assert demo.day == 0
    assert demo.advance(2) == 2
    assert json.loads((tmp_path / "state.json").read_text()) == {"seed": 9, "scale": 0.1, "day": 2}
    again = DemoEnterprise(tmp_path, seed=9, scale=0.1)
    assert again.day == 2
    assert again.enterprise() == simulate(9, 0.1, 2)
    assert again.truth() == simulate(9, 0.1, 2).truth
    with pytest.raises(ValueError, match="seed"):
        DemoEnterprise(tmp_path, seed=10, scale=0.1)
    with pytest.raises(ValueError, match="scale"):
        DemoEnterprise(tmp_path, seed=9, scale=0.2)
    with pytest.raises(ValueError):
        again.advance(-1)


def test_finance_exports_are_gbk_append_only_and_deduplicate_to_truth(tmp_path: Path) -> None:
    demo = DemoEnterprise(tmp_path, seed=4, scale=0.2)
    demo.materialize()
    folder = tmp_path / "finance"
    day0 = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert sorted(day0) == [
        "fx_rates_20251231.csv",
        "invoices_20251231.csv",
        "payments_20251231.csv",
    ]
    demo.materialize()  # idempotent
    demo.advance(2)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [*day0, *(f"{kind}_{day}.csv" for kind in HEADERS for day in ("20260101", "20260102"))]
    )
    assert all((folder / name).stat().st_mtime_ns == stamp for name, stamp in day0.items())
    ent = demo.enterprise()
    invoice_rows = []
    for name in names:
        raw = (folder / name).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")  # GBK, not UTF-8
        text = raw.decode("gbk")
        assert text.splitlines()[0] == HEADERS[name.rsplit("_", 1)[0]]
        assert list(csv.DictReader(io.StringIO(text))) == ent.finance_files[name]
        frame = pd.read_csv(folder / name, encoding="gbk", dtype=str)
        assert len(frame) == len(ent.finance_files[name])
        if name.startswith("invoices_"):
            invoice_rows += frame.to_dict("records")
    first = ent.finance_files["invoices_20251231.csv"][0]
    assert first["日期"].endswith("日") and "," in "".join(
        r["金额(USD)"] for r in ent.finance_files["invoices_20251231.csv"]
    )
    fx_day = ent.finance_files["fx_rates_20260102.csv"]
    assert fx_day == [
        {"日期": "2026-01-02", "币种": "CNY", "兑美元汇率": f"{ent.truth.fx_rates[ent.now]:.6f}"}
    ]
    unique = {tuple(r.values()) for r in invoice_rows}
    assert len(invoice_rows) > len(unique) == len(ent.truth.invoices)
    assert {r[0] for r in unique} == {i["invoice_id"] for i in ent.truth.invoices}


def test_materialized_erp_is_the_current_day(tmp_path: Path) -> None:
    demo = DemoEnterprise(tmp_path, seed=4, scale=0.1)
    demo.advance()
    engine = sa.create_engine(demo.erp_url)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            count = connection.execute(sa.text("SELECT count(*) FROM orders_2026")).scalar()
    finally:
        engine.dispose()
    ent = demo.enterprise()
    assert tables == set(ent.erp_tables)
    assert count == len(ent.erp_tables["orders_2026"])
