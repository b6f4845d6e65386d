-- One row per person, whichever systems know them; HR is the system of record.
with ids as (
    select distinct employee_id from {{ ref('int_employee_crosswalk') }}
),

hr as (
    select * from {{ ref('stg_hr__employees') }}
),

departments as (
    select * from {{ ref('stg_hr__departments') }}
),

erp as (
    select * from {{ ref('stg_erp__sales_reps') }}
),

crm as (
    select * from {{ ref('stg_crm__users') }}
)

select
    ids.employee_id,
    coalesce(hr.full_name, erp.full_name, crm.full_name) as full_name,
    hr.gender,
    hr.hire_date,
    hr.department_code,
    departments.department_name,
    hr.monthly_salary_cny,
    coalesce(hr.email, crm.email) as email,
    hr.staff_id as hr_staff_id,
    erp.erp_emp_no,
    crm.crm_user_id,
    erp.region as sales_region,
    hr.employee_id is not null as in_hr,
    erp.employee_id is not null as in_erp,
    crm.employee_id is not null as in_crm
from ids
left join hr on ids.employee_id = hr.employee_id
left join departments on hr.department_code = departments.department_code
left join erp on ids.employee_id = erp.employee_id
left join crm on ids.employee_id = crm.employee_id
