with source as (
    select * from {{ source('raw_finance', 'invoices') }}
)

select
    trim("发票号") as invoice_id,
    trim("订单号") as order_no,
    trim("客户编号") as customer_id,
    {{ parse_money('"金额(USD)"') }} as amount_usd,
    cast(strptime(trim("日期"), '%Y年%m月%d日') as date) as invoice_date,
    _file_name as source_file,
    _line as source_line,
    _dlt_load_id as load_id
from source
