with source as (
    select * from {{ source('raw_finance', 'fx_rates') }}
)

select
    cast("日期" as date) as rate_date,
    upper(trim("币种")) as currency,
    cast("兑美元汇率" as decimal(18, 6)) as usd_per_unit,
    _file_name as source_file,
    _dlt_load_id as load_id
from source
