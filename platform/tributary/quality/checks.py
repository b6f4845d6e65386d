"""Blocking pandera checks on the marts: a failure stops the publish of the analyst snapshot."""

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from tributary.settings import Settings
from tributary.warehouse import connect

ORDER_STATUSES = ["pending", "shipped", "delivered", "cancelled"]

fct_orders_schema = pa.DataFrameSchema(
    {
        "order_id": pa.Column(int, unique=True),
        "order_no": pa.Column(str, pa.Check.str_matches(r"^SO-\d{4}-\d+$")),
        "order_date": pa.Column("datetime64[us]"),
        "customer_id": pa.Column(str, pa.Check.str_matches(r"^C\d+$")),
        "employee_id": pa.Column(str, pa.Check.str_matches(r"^E\d{5}$")),
        "status": pa.Column(str, pa.Check.isin(ORDER_STATUSES)),
        "currency": pa.Column(str, pa.Check.str_length(3, 3)),
        "amount_local": pa.Column(float, pa.Check.ge(0)),
        "fx_rate": pa.Column(float, pa.Check.gt(0)),
        "amount_base": pa.Column(float, pa.Check.ge(0)),
        "n_lines": pa.Column(int, pa.Check.ge(1)),
    },
    checks=[
        pa.Check(
            lambda df: (df["amount_base"] - df["amount_local"] * df["fx_rate"]).abs() <= 0.01,
            name="amount_base_is_converted_local_amount",
            error="amount_base differs from amount_local × fx_rate by more than a cent",
        )
    ],
    strict=False,
    coerce=True,
    name="fct_orders",
)


def validate(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> dg.AssetCheckResult:
    """Run a schema lazily: every failing rule is reported with its count and a sample."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = exc.failure_cases
        summary = (
            failures.groupby(["column", "check"], dropna=False)
            .size()
            .reset_index(name="failures")
            .astype({"column": str})
        )
        return dg.AssetCheckResult(
            passed=False,
            metadata={
                "rows_checked": len(frame),
                "failure_count": len(failures),
                "failures_by_rule": dg.MetadataValue.md(summary.to_markdown(index=False)),
                "sample": dg.MetadataValue.md(failures.head(10).astype(str).to_markdown()),
            },
        )
    return dg.AssetCheckResult(passed=True, metadata={"rows_checked": len(frame)})


def build_quality_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=dg.AssetKey(["marts", "fct_orders"]),
        name="pandera_fct_orders",
        blocking=True,
        description="Types, codes, ranges and the currency conversion of every order (pandera).",
    )
    def pandera_fct_orders() -> dg.AssetCheckResult:
        with connect(settings.warehouse, read_only=True) as con:
            frame = con.execute("select * from marts.fct_orders").df()
        return validate(frame, fct_orders_schema)

    return [pandera_fct_orders]
