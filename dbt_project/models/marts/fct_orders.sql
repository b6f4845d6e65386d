-- One row per order, amounts converted into the base currency at the order date's rate.
with orders as (
    select * from {{ ref('int_order__conformed') }}
),

lines as (
    select
        order_lines.order_id,
        count(*) as n_lines,
        cast(sum(order_lines.quantity) as bigint) as total_quantity,
        max(order_lines.quantity) as max_line_quantity,
        -- the lines' currency is the amount's (one per order: tested on the mart)
        any_value(order_lines.unit_price_currency) as currency,
        cast(sum(round(order_lines.quantity * order_lines.unit_price, 2)) as decimal(18, 2))
            as amount_local,
        max(order_lines.unit_price / nullif(products.list_price, 0)) as max_price_to_list
    from {{ ref('int_order_line__conformed') }} as order_lines
    left join {{ ref('int_product__conformed') }} as products
        on order_lines.product_id = products.product_id
    group by order_lines.order_id
),

rates as (
    select * from {{ ref('int_fx_rates_to_base') }}
)

select
    orders.order_id,
    orders.order_no,
    orders.order_date,
    orders.customer_id,
    orders.employee_id,
    orders.status,
    coalesce(lines.currency, orders.currency) as currency,
    coalesce(lines.amount_local, 0) as amount_local,
    rates.rate_to_base as fx_rate,
    rates.base_currency,
    cast(round(coalesce(lines.amount_local, 0) * rates.rate_to_base, 2) as decimal(18, 2))
        as amount_base,
    coalesce(lines.n_lines, 0) as n_lines,
    coalesce(lines.total_quantity, 0) as total_quantity,
    lines.max_line_quantity,
    round(cast(lines.max_price_to_list as double), 4) as max_price_to_list,
    orders.source_table
from orders
left join lines on orders.order_id = lines.order_id
asof left join rates
    on coalesce(lines.currency, orders.currency) = rates.currency
    and orders.order_date >= rates.rate_date
