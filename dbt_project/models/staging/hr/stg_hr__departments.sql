with source as (
    select * from {{ source('raw_hr', 'departments') }}
)

select
    dept_code as department_code,
    trim(dept_name) as department_name,
    trim(dept_name_zh) as department_name_zh,
    {{ to_utc('updated_at') }} as updated_at
from source
