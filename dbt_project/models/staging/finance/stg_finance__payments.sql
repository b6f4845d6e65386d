with source as (
    select * from {{ source('raw_finance', 'payments') }}
)

select
    trim("付款单号") as payment_id,
    trim("发票号") as invoice_id,
    {{ parse_money('"金额(USD)"') }} as amount_usd,
    cast(strptime(trim("付款日期"), '%Y年%m月%d日') as date) as payment_date,
    _file_name as source_file,
    _line as source_line,
    _dlt_load_id as load_id
from source
