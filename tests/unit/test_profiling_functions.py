"""Duplicates, outliers and volumes: the pure functions behind the profiling checks."""

import math

import dagster as dg
import duckdb
import pandas as pd
import pytest

from tributary.contracts.resolved import load_mappings_for
from tributary.quality.monitors import distribution, duplicates, volume
from tributary.quality.monitors.distribution import NumericField
from tributary.quality.monitors.duplicates import Identity
from tributary.quality.monitors.targets import mask, profiling_targets
from tributary.quality.monitors.volume import Load

CUSTOMER = Identity(["customer_id"], ["company_name", "phone_e164"], "company_name")

# --- normalization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("  Acme   Trading\tCo. ", "acme trading co."),
        ("ＡＣＭＥ　Ｔｒａｄｉｎｇ", "acme trading"),  # full-width letters and ideographic space
        ("上海华信\u200b科技", "上海华信 科技"),  # a zero-width space is white space too
        ("   ", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_normalize(value, expected):
    assert duplicates.normalize(value) == expected


def test_identity_text_drops_punctuation_and_legal_forms():
    variants = ["Acme Trading Co., Ltd.", "ACME Trading Co Ltd", "ａｃｍｅ trading co. ltd"]
    assert {duplicates.identity_text(v) for v in variants} == {"acme trading"}
    assert duplicates.identity_text("上海华信科技有限公司") == "上海华信科技"
    assert duplicates.identity_text("华信（上海）股份有限公司") == "华信 上海"
    # a name that is nothing but a legal form keeps it rather than becoming empty
    assert duplicates.identity_text("Company Ltd.") == "company ltd"
    assert duplicates.identity_text("") is None


def test_block_is_the_first_characters_without_spaces():
    assert duplicates.block_of("ac me trading") == "acme"
    assert duplicates.block_of("上海华信科技") == "上海华信"
    assert duplicates.block_of(None) is None


# --- duplicates -------------------------------------------------------------------------------


def customers(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "company_name", "phone_e164"])


def test_exact_duplicates_after_light_normalization():
    frame = customers(
        [
            ("C1", "Acme Trading", "+8613800000001"),
            ("C2", "  ACME   trading ", "+8613800000001"),  # case and spacing only
            ("C3", "Acme Trading", "+8613800000002"),  # another phone: not exact
            ("C4", "Globex", None),
            ("C5", "Globex", None),  # a missing phone matches nothing
        ]
    )
    groups = duplicates.exact_duplicates(duplicates.prepare(frame, CUSTOMER), CUSTOMER)
    assert sorted(groups["_key"]) == ["C1", "C2"]
    assert set(groups["_group"]) == {1} and set(groups["_group_size"]) == {2}


def test_near_duplicates_found_and_distinct_companies_not():
    frame = customers(
        [
            ("C1", "Acme Trading Co., Ltd.", "+8613800000001"),
            ("C2", "ACME Trading Co Ltd", "+8613800000001"),  # punctuation only
            ("C3", "Acme Tradng Co Ltd", None),  # a typo, phone missing
            ("C4", "Apex Trading Co Ltd", "+8613800000004"),  # another company
            ("C5", "Acme Textiles Co Ltd", "+8613800000001"),  # same phone, another name
            ("C6", "上海华信科技有限公司", "+8613900000006"),
            ("C7", "上海华信科枝有限公司", "+8613900000006"),  # a typo in Chinese
            ("C8", "上海华信贸易有限公司", None),  # same group, another business
            ("C9", "Acme Trading Co Ltd", "+8613899999999"),  # same name, other phone: a clash
        ]
    )
    pairs, oversized = duplicates.near_duplicates(duplicates.prepare(frame, CUSTOMER), CUSTOMER)
    found = {
        tuple(sorted((frame.customer_id[r.left_rid], frame.customer_id[r.right_rid])))
        for r in pairs.itertuples()
    }
    assert found == {("C1", "C2"), ("C1", "C3"), ("C2", "C3"), ("C6", "C7"), ("C3", "C9")}
    assert oversized == []
    assert pairs["similarity"].between(duplicates.NEAR_DUPLICATE_SIMILARITY, 1).all()


def test_near_duplicates_leave_exact_ones_to_the_exact_check():
    frame = customers([("C1", "Acme", "+861"), ("C2", "ACME", "+861")])
    pairs, _ = duplicates.near_duplicates(duplicates.prepare(frame, CUSTOMER), CUSTOMER)
    assert pairs.empty


def test_an_oversized_block_is_reported_not_expanded():
    # A placeholder phone shared by many customers would cost a comparison per pair.
    frame = customers([(f"C{i}", f"Globex {i:03d}", "+8600000000") for i in range(12)])
    pairs, oversized = duplicates.near_duplicates(
        duplicates.prepare(frame, CUSTOMER), CUSTOMER, max_block=10
    )
    assert "phone_e164 = '+8600000000'" in oversized
    assert "name starting 'glob'" in oversized
    assert pairs.empty


def test_redelivered_counts_records_delivered_more_than_once():
    con = duckdb.connect()
    con.execute("create table stg as from (values ('1'), ('1'), ('1'), ('2')) t(_source_id)")
    found = duplicates.redelivered(con, "stg")
    assert (found["rows"], found["distinct_records"], found["merged"]) == (4, 2, 2)
    assert found["top"].to_dict("records") == [{"_source_id": "1", "deliveries": 3}]


# --- distributions ----------------------------------------------------------------------------


def test_robust_z_of_a_textbook_history():
    history = [10, 11, 12, 13, 14]  # median 12, MAD 1
    assert distribution.robust_spread(history) == (12.0, pytest.approx(1.4826))
    assert distribution.robust_z(12 + 2 * 1.4826, history) == pytest.approx(2.0)


def test_a_flat_history_does_not_make_every_change_infinite():
    # The same data rebuilt five times: MAD 0. The spread floor is 2% of the median.
    assert distribution.robust_z(105, [100] * 5) == pytest.approx(2.5)
    assert distribution.robust_z(0, [0] * 5) == 0
    assert math.isinf(distribution.robust_z(1, [0] * 5))


def stats(median: float, p99: float) -> dict:
    return {"field": "amount", "segment": "USD", "median": median, "p99": p99}


def history_of(points: list[tuple[float, float]]) -> pd.DataFrame:
    rows = [
        {**stats(m, p), "profiled_at": pd.Timestamp("2025-01-01") + pd.Timedelta(days=i)}
        for i, (m, p) in enumerate(points)
    ]
    return pd.DataFrame(rows)


def test_shifts_need_enough_history():
    current = pd.DataFrame([stats(1000, 9000)])
    scored = distribution.shifts(current, history_of([(100, 900)] * 4))
    assert scored["moved"].isna().all() and set(scored["points"]) == {4}


def test_shifts_flag_a_median_that_jumped_and_not_a_normal_wobble():
    history = history_of([(100 + i % 3, 900 + 10 * (i % 4)) for i in range(12)])
    normal = distribution.shifts(pd.DataFrame([stats(101.5, 915)]), history)
    assert not normal["moved"].any()
    jumped = distribution.shifts(pd.DataFrame([stats(10_000, 915)]), history)
    moved = jumped.set_index("statistic")["moved"]
    assert moved["median"] and not moved["p99"]


def outliers_in(values: list[float], **kwargs) -> pd.DataFrame:
    con = duckdb.connect()
    frame = pd.DataFrame({"id": range(len(values)), "amount": values, "currency": "CNY"})
    con.register("t", frame)
    return distribution.outlying_rows(
        con, "t", ["id"], [NumericField("amount", ("currency",))], **kwargs
    )


def test_a_planted_outlier_is_found():
    values = [100, 120, 95, 110, 105, 98, 130, 90, 115, 102, 100 * 100]
    found = outliers_in(values)
    assert found["id"].tolist() == [10]
    assert found.loc[0, "segment"] == "CNY" and found.loc[0, "z"] > 100


def test_a_long_upper_tail_is_not_outlying():
    # Skewed amounts: one MAD for both sides would flag 1500 and 3000 (z 14.7 and 30); the
    # spread of the upper side alone puts 3000 at 6.3.
    values = [10, 20, 30, 40, 50, 60, 80, 100, 150, 200, 400, 800, 1500, 3000]
    assert outliers_in(values).empty


def test_when_most_values_are_equal_the_mean_deviation_stands_in():
    values = [1] * 30 + [2, 3, 400]  # MAD is 0 on both sides
    assert outliers_in(values)["id"].tolist() == [32]
    assert outliers_in([5] * 20).empty


def test_too_few_values_are_not_judged():
    assert outliers_in([1, 2, 3, 1000], min_rows=10).empty


def test_field_statistics_per_segment():
    con = duckdb.connect()
    con.execute(
        "create table t as select * from (values (1, 10.0, 'CNY'), (2, 20.0, 'CNY'), "
        "(3, null, 'CNY'), (4, 5.0, 'USD')) v(id, amount, amount_currency)"
    )
    found = distribution.field_statistics(
        con, "t", [NumericField("amount", ("amount_currency",))]
    ).set_index("segment")
    assert found.loc["CNY", "row_count"] == 3
    assert found.loc["CNY", "null_share"] == pytest.approx(1 / 3)
    assert found.loc["CNY", "median"] == 15 and found.loc["USD", "p99"] == 5


# --- volumes ----------------------------------------------------------------------------------


def loads(*rows: int | None) -> list[Load]:
    """Newest first, as the instance returns them."""
    return [Load(float(1000 - i), r) for i, r in enumerate(rows)]


def test_a_full_load_far_below_the_usual_warns():
    verdict = volume.judge("replace", loads(150, 1000, 980, 1020, 1010), 150, [])
    rows_loaded, table_rows = verdict.signals
    assert not verdict.passed and not rows_loaded.passed
    assert (rows_loaded.value, rows_loaded.usual) == (150, 1005)
    assert table_rows.passed  # no size recorded yet: nothing to say


def test_a_full_load_within_the_usual_passes():
    assert volume.judge("replace", loads(700, 1000, 980, 1020), 700, [1000, 980, 1020]).passed


def test_a_small_incremental_load_is_normal():
    # Five changed rows after loads of thousands: the table did not shrink.
    verdict = volume.judge("merge", loads(5, 3000, 40, 12), 5000, [4995, 4990, 4980])
    assert verdict.passed and [s.name for s in verdict.signals] == ["table rows"]


def test_an_incremental_table_that_shrank_warns():
    verdict = volume.judge("merge", loads(300), 300, [5000, 4990, 4980, 4900])
    assert not verdict.passed and "6% of the usual 4,985" in verdict.reason


def test_a_table_replaced_by_mistake_warns_on_its_size():
    # Loaded incrementally (small loads), then replaced by a partial extract: the loads say
    # nothing, the table's size does.
    verdict = volume.judge("replace", loads(10, 5, 5, 5, 100), 10, [120, 115, 110, 105])
    rows_loaded, table_rows = verdict.signals
    assert rows_loaded.passed and "too small to judge" in rows_loaded.reason
    assert not table_rows.passed and not verdict.passed


@pytest.mark.parametrize(
    "disposition, history, table_rows, previous, why",
    [
        ("replace", loads(0, 1000, 1000), 0, [], "2 earlier point(s)"),
        ("replace", loads(1, 40, 40, 40), 1, [], "too small to judge"),
        ("append", loads(1), 10, [20, 20], "2 earlier point(s)"),
        ("replace", [], None, [], "not recorded"),
    ],
)
def test_nothing_is_judged_without_a_meaningful_usual(
    disposition, history, table_rows, previous, why
):
    verdict = volume.judge(disposition, history, table_rows, previous)
    assert verdict.passed and why in verdict.reason


def test_unknown_disposition_is_treated_as_incremental():
    # Safer: a small load of a table whose disposition is unknown is no alarm.
    assert volume.judge(None, loads(5, 1000, 1000, 1000), 3005, [3000, 3000, 3000]).passed


def test_rows_loaded_from_dagster_dlt_metadata():
    assert volume.rows_loaded({"rows_loaded": dg.MetadataValue.int(12)}) == 12
    # Regression: a missing count was read as 0, but dagster-dlt also leaves it out for
    # Arrow loads of SQL tables, whatever they loaded.
    assert volume.rows_loaded({"jobs": []}) is None


def test_an_empty_full_load_is_caught_by_the_table_size():
    # dagster-dlt records no rows_loaded for an empty load: the size history still sees it.
    verdict = volume.judge("replace", loads(None, 1000, 1000, 1000), 0, [1000, 1000, 1000])
    rows_loaded, table_rows = verdict.signals
    assert rows_loaded.passed and rows_loaded.reason == "not recorded"
    assert not table_rows.passed


# --- targets and presentation -----------------------------------------------------------------


def test_targets_come_from_the_dictionary(settings):
    dictionary, mappings = load_mappings_for(settings)
    targets = {t.name: t for t in profiling_targets(dictionary, mappings)}
    customer = targets["customer"]
    assert customer.asset_key == dg.AssetKey(["intermediate", "int_customer__conformed"])
    assert customer.identity == CUSTOMER
    assert customer.staging_models == ("stg_crm__customers",)
    # identifiers are numbers, not quantities: order_id, line_no and product_id are left out
    lines = targets["order_line"].numeric_fields
    assert lines == [
        NumericField("quantity"),
        NumericField("unit_price", ("unit_price_currency",)),
    ]
    assert targets["fx_rate"].numeric_fields == [NumericField("usd_per_unit", ("currency",))]
    assert targets["employee"].personal("monthly_salary")


@pytest.mark.parametrize(
    "value, shown",
    [("+8613812345678", "+86********678"), ("王小明", "王*明"), ("ab", "**"), (None, "")],
)
def test_mask_keeps_only_the_ends(value, shown):
    assert mask(value) == shown
