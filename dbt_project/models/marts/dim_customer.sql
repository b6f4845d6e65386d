-- One row per customer, with its owner and what it has ordered.
with customers as (
    select * from {{ ref('int_customer__conformed') }}
),

orders as (
    select
        customer_id,
        count(*) as order_count,
        sum(amount_base) as lifetime_amount_base,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from {{ ref('fct_orders') }}
    where status <> 'cancelled'
    group by customer_id
)

select
    customers.customer_id,
    customers.company_name,
    customers.phone_e164,
    customers.email,
    customers.owner_employee_id,
    customers.created_at,
    coalesce(orders.order_count, 0) as order_count,
    cast(coalesce(orders.lifetime_amount_base, 0) as decimal(18, 2)) as lifetime_amount_base,
    orders.first_order_date,
    orders.last_order_date,
    customers._sources as source_systems
from customers
left join orders on customers.customer_id = orders.customer_id
