with source as (
    select * from {{ source('raw_hr', 'employees') }}
),

standardized as (
    select
        {{ to_employee_id('staff_id') }} as employee_id,
        staff_id,
        trim(name) as full_name,
        case
            when gender in ('M', '男') then 'M'
            when gender in ('F', '女') then 'F'
            when gender is null then 'U'
        end as gender,
        cast(strptime(hire_date, '%d/%m/%Y') as date) as hire_date,
        dept_code as department_code,
        {{ parse_money('monthly_salary') }} as monthly_salary_cny,
        lower(trim(email)) as email,
        {{ to_utc('updated_at') }} as updated_at
    from source
)

select * from standardized
