-- Rates from each currency into the base currency, per day: via USD, the unit finance uses.
with usd_rates as (
    select rate_date, currency, usd_per_unit
    from {{ ref('int_fx_rate__conformed') }}
),

with_usd as (
    select rate_date, currency, usd_per_unit from usd_rates
    union all
    select distinct rate_date, 'USD' as currency, cast(1 as decimal(18, 6)) as usd_per_unit
    from usd_rates
),

base as (
    select rate_date, usd_per_unit as base_usd_per_unit
    from with_usd
    where currency = '{{ var("base_currency") }}'
)

select
    with_usd.rate_date,
    with_usd.currency,
    '{{ var("base_currency") }}' as base_currency,
    cast(with_usd.usd_per_unit / base.base_usd_per_unit as decimal(18, 6)) as rate_to_base
from with_usd
inner join base on with_usd.rate_date = base.rate_date
