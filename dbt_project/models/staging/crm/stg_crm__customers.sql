with source as (
    select * from {{ source('raw_crm', 'customers') }}
)

select
    id as customer_id,
    trim(company_name) as company_name,
    {{ to_e164_cn('contact_phone') }} as phone_e164,
    lower(trim(email)) as email,
    {{ to_employee_id('owner_user_id') }} as owner_employee_id,
    {{ to_utc('created_at') }} as created_at,
    {{ to_utc('modified_at') }} as modified_at
from source
