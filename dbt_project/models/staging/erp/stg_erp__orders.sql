with source as (
    select * from {{ source('raw_erp', 'orders') }}
)

select
    order_id,
    order_no,
    customer_ref as customer_id,
    {{ to_employee_id('emp_no') }} as employee_id,
    cast(order_date as date) as order_date,
    lower(trim(status)) as status,
    upper(trim(currency)) as currency,
    _source_table as source_table,
    updated_at
from source
