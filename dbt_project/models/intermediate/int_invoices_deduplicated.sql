-- Finance re-exports some invoices in later files: keep the one loaded last.
select *
from {{ ref('stg_finance__invoices') }}
qualify row_number() over (
    partition by invoice_id order by load_id desc, source_file desc, source_line desc
) = 1
