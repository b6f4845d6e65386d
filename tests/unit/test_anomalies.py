"""The anomaly scorer finds planted outliers and says why in words."""

import numpy as np
import pandas as pd

from tributary.mining.anomalies import score_orders


def orders_with_outliers(n: int = 2000, seed: int = 3) -> tuple[pd.DataFrame, set[int]]:
    rng = np.random.default_rng(seed)
    quantity = rng.integers(1, 11, n)
    frame = pd.DataFrame(
        {
            "order_id": np.arange(n),
            "total_quantity": quantity,
            "max_line_quantity": quantity,
            "max_price_to_list": rng.uniform(0.9, 1.0, n),
        }
    )
    frame["amount_base"] = frame["total_quantity"] * rng.uniform(20, 200, n)
    planted = set(rng.choice(n, 20, replace=False).tolist())
    for i, order in enumerate(sorted(planted)):
        if i % 2:
            frame.loc[order, ["total_quantity", "max_line_quantity"]] = 300
            frame.loc[order, "amount_base"] *= 60
        else:
            frame.loc[order, "max_price_to_list"] = 50.0
            frame.loc[order, "amount_base"] *= 50
    return frame, planted


def test_planted_outliers_are_found_with_reasons():
    orders, planted = orders_with_outliers()
    scored = score_orders(orders)
    flagged = set(scored.loc[scored["is_anomaly"], "order_id"])
    assert len(planted & flagged) / len(planted) >= 0.9
    assert len(flagged) <= 0.02 * len(orders)
    reasons = scored.loc[scored["order_id"].isin(planted & flagged), "reason"]
    assert reasons.str.contains("× the usual").all()
    assert scored.loc[~scored["is_anomaly"], "reason"].isna().all()


def test_scores_are_deterministic():
    orders, _ = orders_with_outliers(500)
    pd.testing.assert_frame_equal(score_orders(orders), score_orders(orders))
