"""Mining assets: they read marts and write to the ``ml`` schema beside them."""

import dagster as dg

from tributary.mining.anomalies import CONTAMINATION, FEATURES, score_orders
from tributary.settings import WAREHOUSE_POOL, Settings
from tributary.warehouse import connect


def build_mining_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["ml", "order_anomalies"],
        deps=[dg.AssetKey(["marts", "fct_orders"])],
        group_name="ml",
        pool=WAREHOUSE_POOL,
        kinds={"scikit-learn", "duckdb"},
        description=(
            "Orders that look unlike the others (Isolation Forest over the largest quantity on "
            f"a line and the unit price against list price; about {CONTAMINATION:.1%} are "
            "flagged). "
            "`reason` names the measure furthest from normal for each flagged order."
        ),
    )
    def order_anomalies(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with connect(settings.warehouse) as con:
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
