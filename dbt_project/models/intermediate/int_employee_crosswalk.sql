-- Every system's id for a person, mapped to the one canonical employee id.
with hr as (
    select 'hr' as source_system, staff_id as source_id, employee_id
    from {{ ref('stg_hr__employees') }}
),

erp as (
    select 'erp' as source_system, cast(erp_emp_no as varchar) as source_id, employee_id
    from {{ ref('stg_erp__sales_reps') }}
),

crm as (
    select 'crm' as source_system, crm_user_id as source_id, employee_id
    from {{ ref('stg_crm__users') }}
)

select * from hr
union all
select * from erp
union all
select * from crm
