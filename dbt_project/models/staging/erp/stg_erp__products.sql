with source as (
    select * from {{ source('raw_erp', 'products') }}
)

select
    product_id,
    sku,
    trim(product_name) as product_name,
    category,
    cast(list_price_cny as decimal(18, 2)) as list_price_cny,
    updated_at
from source
