"""The finance system's daily CSV exports: GBK, Chinese headers, Chinese dates, US-style money."""

import csv
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

ENCODING = "gbk"

INVOICE_HEADER = ("发票号", "订单号", "客户编号", "金额(USD)", "日期")
PAYMENT_HEADER = ("付款单号", "发票号", "金额(USD)", "付款日期")
FX_HEADER = ("日期", "币种", "兑美元汇率")

HEADERS: dict[str, tuple[str, ...]] = {
    "invoices": INVOICE_HEADER,
    "payments": PAYMENT_HEADER,
    "fx_rates": FX_HEADER,
}


def file_name(kind: str, export_date: date) -> str:
    """`invoices_20251231.csv`: one file per kind and export day."""
    return f"{kind}_{export_date:%Y%m%d}.csv"


def chinese_date(day: date) -> str:
    """`2024年3月5日`, without zero padding, as the finance clerks write it."""
    return f"{day.year}年{day.month}月{day.day}日"


def money(amount: Decimal) -> str:
    """`1,234.50`: thousands separators, two decimals."""
    return f"{amount:,.2f}"


def write_finance(folder: Path, files: Mapping[str, Sequence[Mapping[str, str]]]) -> None:
    """Write the export files that are not there yet.

    Exports are append-only: a file that exists is never rewritten, so a loader that tracks
    files by name and modification time sees each export exactly once. Each file is written
    to a temporary name and renamed, so a reader never sees half a file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        target = folder / name
        if target.exists():
            continue
        header = HEADERS[name.rsplit("_", 1)[0]]
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with open(handle, "w", encoding=ENCODING, newline="") as out:
                writer = csv.DictWriter(out, fieldnames=header)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
