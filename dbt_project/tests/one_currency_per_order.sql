-- fct_orders converts an order's amount at one currency's rate: its lines must share one.
select order_id, count(distinct unit_price_currency) as currencies
from {{ ref('int_order_line__conformed') }}
group by order_id
having count(distinct unit_price_currency) > 1
