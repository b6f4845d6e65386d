-- One row per invoice (re-exports merged) with what has been paid against it.
with invoices as (
    select * from {{ ref('int_invoice__conformed') }}
),

payments as (
    select
        invoice_id,
        amount_currency,
        sum(amount) as paid_amount,
        sum(amount_base) as paid_base,
        max(payment_date) as last_payment_date
    from {{ ref('int_payment__conformed') }}
    group by invoice_id, amount_currency
)

select
    invoices.invoice_id,
    invoices.order_no,
    invoices.customer_id,
    invoices.invoice_date,
    invoices.amount,
    invoices.amount_currency,
    invoices.amount_base,
    cast(coalesce(payments.paid_base, 0) as decimal(18, 2)) as paid_base,
    '{{ var("base_currency") }}' as base_currency,
    coalesce(payments.paid_amount, 0) >= invoices.amount as is_paid,
    payments.last_payment_date
from invoices
-- payments in the invoice's own currency (finance pays and bills in one currency)
left join payments
    on invoices.invoice_id = payments.invoice_id
    and invoices.amount_currency = payments.amount_currency
