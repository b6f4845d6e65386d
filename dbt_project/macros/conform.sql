{#- Conversions shared by every staging model. Each takes a SQL expression, returns one. -#}

{#- The canonical employee id (E00017) from any system's id that carries the employee number:
    HR staffID 'S00017', ERP empNo 17, CRM user_id 'u17'. -#}
{% macro to_employee_id(expr) -%}
    case
        when regexp_extract(cast({{ expr }} as varchar), '([0-9]+)', 1) <> ''
        then 'E' || lpad(cast(cast(regexp_extract(cast({{ expr }} as varchar), '([0-9]+)', 1) as bigint) as varchar), 5, '0')
    end
{%- endmacro %}

{#- Text money ('¥12,345.00', '1,234.50', '¥ 9,800') to a decimal; thousands separators dropped. -#}
{% macro parse_money(expr) -%}
    cast(nullif(regexp_replace(cast({{ expr }} as varchar), '[^0-9.-]', '', 'g'), '') as decimal(18, 2))
{%- endmacro %}

{#- A Chinese mobile number in any common layout to E.164 (+8613812345678). -#}
{% macro to_e164_cn(expr) -%}
    case
        when length(regexp_replace({{ expr }}, '[^0-9]', '', 'g')) = 11
        then '+86' || regexp_replace({{ expr }}, '[^0-9]', '', 'g')
        when regexp_replace({{ expr }}, '[^0-9]', '', 'g') like '86___________'
        then '+' || regexp_replace({{ expr }}, '[^0-9]', '', 'g')
    end
{%- endmacro %}

{#- Any ISO 8601 timestamp (with offset or Z) as a UTC timestamp without time zone. -#}
{% macro to_utc(expr) -%}
    timezone('UTC', cast({{ expr }} as timestamptz))
{%- endmacro %}
