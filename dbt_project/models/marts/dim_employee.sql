-- One row per person, whichever systems know them; each system's own id beside the canonical one.
with employees as (
    select * from {{ ref('int_employee__conformed') }}
),

departments as (
    select * from {{ ref('int_department__conformed') }}
),

system_ids as (
    select
        employee_id,
        max(source_id) filter (where source = 'hr') as hr_staff_id,
        max(source_id) filter (where source = 'erp') as erp_emp_no,
        max(source_id) filter (where source = 'crm') as crm_user_id
    from {{ ref('int_employee__crosswalk') }}
    where employee_id is not null
    group by employee_id
)

select
    employees.employee_id,
    employees.full_name,
    employees.gender,
    employees.hire_date,
    employees.department_code,
    departments.department_name,
    employees.monthly_salary,
    employees.monthly_salary_currency,
    employees.email,
    system_ids.hr_staff_id,
    system_ids.erp_emp_no,
    system_ids.crm_user_id,
    employees.sales_region,
    employees._sources as source_systems
from employees
left join departments on employees.department_code = departments.department_code
left join system_ids on employees.employee_id = system_ids.employee_id
