with source as (
    select * from {{ source('raw_erp', 'sales_reps') }}
)

select
    {{ to_employee_id('emp_no') }} as employee_id,
    emp_no as erp_emp_no,
    trim(rep_name) as full_name,
    region,
    updated_at
from source
