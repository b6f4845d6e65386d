with source as (
    select * from {{ source('raw_crm', 'users') }}
)

select
    {{ to_employee_id('user_id') }} as employee_id,
    user_id as crm_user_id,
    trim(full_name) as full_name,
    lower(trim(email)) as email,
    {{ to_utc('modified_at') }} as modified_at
from source
