"""Mining assets: they read marts and write to the ``ml`` schema beside them."""

import dagster as dg

from tributary.graph import PUBLISHED_TAGS, table_metadata
from tributary.mining.anomalies import (
    CONTAMINATION,
    FEATURES,
    MIN_TIMES_USUAL,
    ORDER_ANOMALIES_COLUMNS,
    score_orders,
)
from tributary.settings import Settings
from tributary.warehouse import Warehouse


def build_mining_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """`ml/order_anomalies`, published with the marts it scores."""

    @dg.asset(
        key=["ml", "order_anomalies"],
        deps=[dg.AssetKey(["marts", "fct_orders"])],
        group_name="ml",
        tags=PUBLISHED_TAGS,
        kinds={"scikit-learn", "duckdb"},
        description=(
            "One row per order of marts.fct_orders, scored for how unlike the others it looks."
            "\n\nAn Isolation Forest over the largest quantity on a line and the unit price "
            f"against list price flags at most {CONTAMINATION:.1%} of orders, and only those "
            f"at least {MIN_TIMES_USUAL:g}× the usual value on one of these measures; `reason` "
            "names the measure furthest from normal for each flagged order."
        ),
        metadata=table_metadata(
            f"{settings.warehouse.stem}.ml.order_anomalies", ORDER_ANOMALIES_COLUMNS
        ),
    )
    def order_anomalies(
        context: dg.AssetExecutionContext, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            orders = con.execute(
                f"select order_id, {', '.join(FEATURES)} from marts.fct_orders order by order_id"
            ).df()
            scored = score_orders(orders)
            con.execute("create schema if not exists ml")
            con.register("scored", scored)
            con.execute("create or replace table ml.order_anomalies as select * from scored")
        flagged = int(scored["is_anomaly"].sum())
        context.log.info(f"{flagged} of {len(scored)} orders flagged as anomalous")
        return dg.MaterializeResult(
            metadata={
                "orders_scored": len(scored),
                "anomalies_found": flagged,
                "dagster/row_count": len(scored),
            }
        )

    return [order_anomalies]
