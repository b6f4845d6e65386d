{#- Conversions the generated staging models apply to raw source columns. Each macro takes a SQL
    expression (a column name such as "hireDate") and returns one SQL expression. Plain Jinja
    only, so tests/unit/test_conversions.py renders them without dbt. Helpers are named convert_*. -#}

{#- Any value as clean text: full-width ASCII forms ('Ａ１＠') and the ideographic space become
    half-width (halfwidth), white space at both ends goes (tabs, non-breaking and zero-width
    spaces, a BOM), '' becomes null. case: none, 'lower' or 'upper'. -#}
{% macro clean_text(expr, case=none, halfwidth=true) -%}
{%- if case == 'lower' %}lower({% elif case == 'upper' %}upper({% endif -%}
nullif(regexp_replace(
{%- if halfwidth -%}
translate(cast({{ expr }} as varchar), '！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～　', '!"#$%&''()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~ ')
{%- else -%}
cast({{ expr }} as varchar)
{%- endif -%}
, '^[\s\p{Z}\x{200B}\x{FEFF}]+|[\s\p{Z}\x{200B}\x{FEFF}]+$', '', 'g'), '')
{%- if case in ('lower', 'upper') %}){% endif -%}
{%- endmacro %}

{#- An e-mail address: clean text in lower case without any space inside; '' becomes null. -#}
{% macro clean_email(expr) -%}
nullif(regexp_replace({{ clean_text(expr, case='lower') }}, '[\s\p{Z}\x{200B}\x{FEFF}]', '', 'g'), '')
{%- endmacro %}

{#- A phone number in any common layout ('138 1234 5678', '+86 138-1234-5678', '(0086)138…',
    '8613812345678', full-width digits) in E.164: '+8613812345678'. Steps: keep digits and '+'
    (a '(0)' goes); a leading '+' or '00' means international; digits already starting with
    country_code are taken as international; otherwise a national trunk '0' is dropped and
    country_code prefixed. Null unless the result has 8 to 15 digits. -#}
{% macro to_e164(expr, country_code='86') -%}
{%- set cc = country_code | string | replace('+', '') -%}
nullif(regexp_extract(
    regexp_replace(regexp_replace(regexp_replace(
        regexp_replace({{ clean_text(expr) }}, '\(0\)|[^0-9+]', '', 'g'),
        '^(\+|00)', '+'),
        '^{{ cc }}', '+{{ cc }}'),
        '^0?([0-9])', '+{{ cc }}\1'),
    '^\+[1-9][0-9]{7,14}$'), '')
{%- endmacro %}

{#- The canonical id from any system's id that carries the same number: the first run of digits
    in 'S00017', 17, 'u17' or 'EMP-17' rendered through format, a printf format with one integer
    ('E%05d' gives 'E00017'). No digits gives null. -#}
{% macro canonical_id(expr, format) -%}
printf({{ convert_literal(format) }}, try_cast(regexp_extract({{ clean_text(expr) }}, '[0-9]+') as bigint))
{%- endmacro %}

{#- Text money or a number as decimal(18, scale). Currency symbols and codes (¥ $ € CNY 元),
    spaces and thousands separators are dropped; decimal_mark ',' reads '1.234,50' as 1234.50;
    a leading minus or parentheses make it negative. Numeric input is cast as it is (its text
    could be '1e-05'); so is an exponent ('1.5E+3'). '' and anything that is not a number in the
    declared convention give null ('1.234,50' with decimal_mark '.', '12abc34'), so it is
    reported as unreadable instead of read as another amount. -#}
{% macro parse_decimal(expr, decimal_mark='.', scale=2) -%}
{%- set group, point = (',', '\.') if decimal_mark == '.' else ('\.', ',') -%}
case
    when typeof({{ expr }}) <> 'VARCHAR' then try_cast({{ expr }} as decimal(18, {{ scale }}))
    else list_transform(
        [regexp_replace({{ clean_text(expr) }}, '(?i)cny|rmb|usd|eur|gbp|hkd|jpy|元|¥|￥|\$|€|£|[\s\x{00A0}\x{2009}\x{202F}]', '', 'g')],
        lambda v: case
            when regexp_full_match(v, '[-+]?[0-9]+(\.[0-9]+)?[eE][-+]?[0-9]+')
                then try_cast(try_cast(v as double) as decimal(18, {{ scale }}))
            when regexp_full_match(v, '\(?[-+]?([0-9]{1,3}({{ group }}[0-9]{3})+|[0-9]+)({{ point }}[0-9]+)?\)?')
                then try_cast(regexp_replace(
                    {%- if decimal_mark == ',' %}
                    replace(replace(v, '.', ''), ',', '.'),
                    {%- else %}
                    replace(v, ',', ''),
                    {%- endif %}
                    '^\((.*)\)$', '-\1') as decimal(18, {{ scale }}))
        end
    )[1]
end
{%- endmacro %}

{#- A date from the first of formats that parses (null when none does). Each format is a DuckDB
    strptime format ('%d/%m/%Y', '%Y年%m月%d日') or one of: 'iso' (ISO 8601 date or timestamp; the
    date as written, an offset is ignored), 'epoch_s', 'epoch_ms' (the UTC date) and
    'excel_serial' (1900 system; see convert_excel_serial). A strptime format with %z/%Z gives
    the UTC date. -#}
{% macro parse_date(expr, formats) -%}
{#- The lambda names the cleaned value v once instead of repeating clean_text per format. -#}
list_transform([{{ clean_text(expr) }}], lambda v: coalesce(
{%- for format in formats %}
    {% if format == 'iso' -%}
        try_cast(v as date)
    {%- elif format == 'epoch_s' -%}
        cast({{ convert_epoch('v', 1000000) }} as date)
    {%- elif format == 'epoch_ms' -%}
        cast({{ convert_epoch('v', 1000) }} as date)
    {%- elif format == 'excel_serial' -%}
        cast({{ convert_excel_serial('v') }} as date)
    {%- elif '%z' in format or '%Z' in format -%}
        cast(timezone('UTC', try_strptime(v, {{ convert_literal(format) }})) as date)
    {%- elif '%' in format -%}
        cast(try_strptime(v, {{ convert_literal(format) }}) as date)
    {%- else -%}
        error({{ convert_literal('parse_date: unknown format ' ~ format) }})
    {%- endif %}{{ ',' if not loop.last }}
{%- endfor %}
))[1]
{%- endmacro %}

{#- A timestamp (without time zone) in UTC from the first of formats that parses; formats as in
    parse_date ('iso' is the default). Values with an offset or 'Z' (or parsed with %z) are
    converted to UTC; naive values (and Excel serials) are wall-clock time in timezone (IANA
    name); epoch seconds and milliseconds are UTC. Around DST changes DuckDB follows PostgreSQL:
    a time in the spring-forward gap is read with the offset before the change (Berlin
    2024-03-31 02:30 gives 01:30 UTC), an ambiguous autumn time as standard time, the later
    instant (Berlin 2024-10-27 02:30 gives 01:30 UTC). The session TimeZone does not matter. -#}
{% macro parse_timestamp(expr, formats=['iso'], timezone='UTC') -%}
{%- set tz = convert_literal(timezone) -%}
list_transform([{{ clean_text(expr) }}], lambda v: coalesce(
{%- for format in formats %}
    {% if format == 'iso' -%}
        case
        when regexp_matches(v, ':[0-9]{2}([.,][0-9]+)? ?([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)$')
        then timezone('UTC', try_cast(v as timestamptz))
        else timezone('UTC', timezone({{ tz }}, try_cast(v as timestamp)))
    end
    {%- elif format == 'epoch_s' -%}
        {{ convert_epoch('v', 1000000) }}
    {%- elif format == 'epoch_ms' -%}
        {{ convert_epoch('v', 1000) }}
    {%- elif format == 'excel_serial' -%}
        timezone('UTC', timezone({{ tz }}, {{ convert_excel_serial('v') }}))
    {%- elif '%z' in format or '%Z' in format -%}
        timezone('UTC', try_strptime(v, {{ convert_literal(format) }}))
    {%- elif '%' in format -%}
        timezone('UTC', timezone({{ tz }}, try_strptime(v, {{ convert_literal(format) }})))
    {%- else -%}
        error({{ convert_literal('parse_timestamp: unknown format ' ~ format) }})
    {%- endif %}{{ ',' if not loop.last }}
{%- endfor %}
))[1]
{%- endmacro %}

{#- A code from codes (raw value -> canonical code), matched on clean text, case-insensitive.
    Null, '' or white space give when_missing (a literal, or null); a value not in codes gives
    null (the mapped_codes test lists it). -#}
{% macro map_code(expr, codes, when_missing=none) -%}
case coalesce(lower({{ clean_text(expr) }}), '')
    {%- for raw, code in codes.items() %}
    {%- set key = raw | string | trim | lower %}
    {%- if key %}
    when {{ convert_literal(key) }} then {{ convert_literal(code) }}
    {%- endif %}
    {%- endfor %}
    {%- if when_missing is not none %}
    when '' then {{ convert_literal(when_missing) }}
    {%- endif %}
end
{%- endmacro %}

{#- Fails on the values of column_name that map_code(column_name, codes) cannot map: one row per
    raw value with its number of rows. Null, '' and white space are not failures. -#}
{% test mapped_codes(model, column_name, codes) %}
select
    {{ column_name }} as unmapped_value,
    count(*) as n_rows
from {{ model }}
{#- not in is null for a null value, so null, '' and white space are left out #}
where lower({{ clean_text(column_name) }})
{%- if codes %} not in (
    {%- for raw in codes %}{{ convert_literal(raw | string | trim | lower) }}{{ ', ' if not loop.last }}{% endfor -%}
)
{%- else %} is not null
{%- endif %}
group by {{ column_name }}
{% endtest %}

{#- Helper: a value as a SQL string literal, single quotes doubled; none gives null. -#}
{% macro convert_literal(value) -%}
{%- if value is none -%}
null
{%- else -%}
'{{ value | string | replace("'", "''") }}'
{%- endif -%}
{%- endmacro %}

{#- Helper: epoch time (unit_us microseconds per unit: 1000000 for seconds, 1000 for
    milliseconds; a number or numeric text) as a UTC timestamp; out of range gives null. -#}
{% macro convert_epoch(v, unit_us) -%}
try(make_timestamp(cast(round(try_cast({{ v }} as double) * {{ unit_us }}) as bigint)))
{%- endmacro %}

{#- Helper: a spreadsheet serial day number (1900 system, a number or numeric text; the fraction
    is the time of day, to the millisecond) as a timestamp: 1 is 1900-01-01, 45292 2024-01-01.
    Excel counts a 1900-02-29 that never was, so serials from 61 are one day off from those
    below 60, and 60 itself (that fake day) gives null, as do serials below 1 or after 9999. -#}
{% macro convert_excel_serial(v) -%}
{%- set serial = 'try_cast(' ~ v ~ ' as double)' -%}
{#- v is a short name (parse_date's lambda), so repeating it stays readable -#}
case
        when {{ serial }} >= 61 and {{ serial }} < 2958466
        then timestamp '1899-12-30' + to_milliseconds(cast(round({{ serial }} * 86400000) as bigint))
        when {{ serial }} >= 1 and {{ serial }} < 60
        then timestamp '1899-12-31' + to_milliseconds(cast(round({{ serial }} * 86400000) as bigint))
    end
{%- endmacro %}
