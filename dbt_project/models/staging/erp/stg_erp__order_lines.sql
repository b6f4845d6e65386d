with source as (
    select * from {{ source('raw_erp', 'order_lines') }}
)

select
    order_id,
    line_no,
    product_id,
    quantity,
    cast(unit_price_cny as decimal(18, 2)) as unit_price_cny,
    round(quantity * cast(unit_price_cny as decimal(18, 2)), 2) as line_amount_cny,
    updated_at
from source
