-- One row per invoice with what has been paid against it, in the base currency.
with invoices as (
    select * from {{ ref('int_invoices_deduplicated') }}
),

payments as (
    select invoice_id, sum(amount_usd) as paid_usd, max(payment_date) as last_payment_date
    from (
        select *
        from {{ ref('stg_finance__payments') }}
        qualify row_number() over (
            partition by payment_id order by load_id desc, source_file desc
        ) = 1
    )
    group by invoice_id
),

rates as (
    select * from {{ ref('int_fx_rates_to_base') }} where currency = 'USD'
)

select
    invoices.invoice_id,
    invoices.order_no,
    invoices.customer_id,
    invoices.invoice_date,
    round(invoices.amount_usd * rates.rate_to_base, 2) as amount_base,
    round(coalesce(payments.paid_usd, 0) * rates.rate_to_base, 2) as paid_base,
    rates.base_currency,
    coalesce(payments.paid_usd, 0) >= invoices.amount_usd as is_paid,
    payments.last_payment_date
from invoices
left join payments on invoices.invoice_id = payments.invoice_id
asof left join rates on invoices.invoice_date >= rates.rate_date
