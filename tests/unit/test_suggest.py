"""Mapping suggestions as plain functions: hand-made column profiles against a small dictionary,
no warehouse. (tests/integration/test_map_suggest.py measures them on the demo's raw tables.)"""

import re
from pathlib import Path

import pytest
import yaml

from tributary.contracts.dictionary import Dictionary
from tributary.contracts.mapping import Mapping, TableMapping, check_mapping
from tributary.contracts.source import SourceSpec
from tributary.standardize.suggest.accept import accepted, write_mapping, write_proposals
from tributary.standardize.suggest.mapping_edit import (
    Entry,
    TableAddition,
    new_file,
    with_additions,
)
from tributary.standardize.suggest.names import name_evidence, normalize_name
from tributary.standardize.suggest.profiles import detect_date_formats, profile_values
from tributary.standardize.suggest.report import report_lines
from tributary.standardize.suggest.scoring import Suggestion, assign
from tributary.standardize.suggest.source import SourceSuggestions, SuggestError
from tributary.standardize.suggest.table import suggest_table

# A slice of the data dictionary, kept here so these tests do not move when it is edited.
DICTIONARY = Dictionary.model_validate(
    yaml.safe_load(
        """
entities:
  employee:
    description: A person employed by the company.
    synonyms: [staff]
    key: employee_id
    fields:
      employee_id: {type: id, format: "E%05d", description: Canonical id.,
                    synonyms: [emp_no, 工号]}
      full_name: {type: string, description: Name., synonyms: [name, 姓名]}
      gender: {type: code, description: Gender., codes: {M: M, F: F, 男: M, 女: F},
               when_missing: U, synonyms: [sex]}
      hire_date: {type: date, description: Joined., synonyms: [join_date, 入职日期]}
      monthly_salary: {type: money, description: Salary., synonyms: [salary, 月薪]}
      email: {type: email, description: Work e-mail., synonyms: [mail]}
  customer:
    description: A company that buys from us.
    synonyms: [account]
    key: customer_id
    fields:
      customer_id: {type: id, description: Customer id., synonyms: [客户编号]}
      company_name: {type: string, description: Company name., synonyms: [company]}
      phone_e164: {type: phone, description: Phone., synonyms: [phone, 电话]}
      email: {type: email, description: Contact e-mail.}
      created_at: {type: timestamp, description: Created., synonyms: [create_time]}
  invoice:
    description: An invoice.
    key: invoice_id
    fields:
      invoice_id: {type: id, description: Invoice number., synonyms: [invoice_no]}
      invoice_date: {type: date, description: Invoice date., synonyms: [日期]}
      amount: {type: money, description: Amount., synonyms: [金额]}
      fx_rate: {type: decimal, description: Rate used., synonyms: [rate]}
"""
    )
)

NAMES = ["张伟", "Li Na", "王芳", "Zhao Lei", "陈静", "Liu Yang"]
EMAILS = [f"user{i}@corp.example" for i in range(6)]


def p(name, values, db_type="VARCHAR", **counts):
    return profile_values(name, db_type, values, **counts)


def by_column(table):
    return {s.column: s for s in table.fields}


def test_names_normalize_case_units_and_chinese():
    assert normalize_name("staffID").text == "staff_id"
    assert normalize_name("deptNameZh").tokens == ("department", "name", "zh")
    price = normalize_name("list_price_cny")
    assert (price.text, price.unit) == ("list_price", "CNY")
    amount = normalize_name("金额(USD)")
    assert (amount.text, amount.unit) == ("金额", "USD")
    assert normalize_name("金额（元）").unit == "CNY"  # full-width brackets, yuan
    # Chinese words the glossary knows carry English words, for fields without a synonym.
    assert normalize_name("客户编号").tokens == ("customer", "no")


def test_chinese_header_matches_its_chinese_synonym_and_date_format():
    dates = ["2024年3月5日", "2023年11月20日", "2021年1月9日", "2024年12月31日"]
    table = suggest_table("hr", "staff", [p("入职日期", dates), p("姓名", NAMES)], DICTIONARY)
    found = by_column(table)
    assert table.entity == "employee"
    hire = found["入职日期"]
    assert (hire.field, hire.options) == ("hire_date", {"formats": ["%Y年%m月%d日"]})
    assert hire.confidence >= 0.9
    assert "synonym 入职日期" in hire.why and "100% parse as %Y年%m月%d日" in hire.why
    assert found["姓名"].field == "full_name"


def test_code_values_fit_a_code_field_whatever_the_column_is_called():
    columns = [
        p("emp_no", ["S00001", "S00002", "S00003", "S00004"]),
        p("col7", ["M", "F", "男", "女", " f "]),  # spaces and case as the staging model reads
    ]
    found = by_column(suggest_table("hr", "people", columns, DICTIONARY))
    assert found["col7"].field == "gender"
    assert found["col7"].confidence >= 0.8
    assert "codes the field accepts" in found["col7"].why


@pytest.mark.parametrize(
    ("values", "formats"),
    [
        (["05/03/2024", "13/03/2024", "28/02/2023"], ("%d/%m/%Y",)),
        (["03/13/2024", "02/28/2023"], ("%m/%d/%Y",)),
        (["05/03/2024", "06/04/2023"], ("%d/%m/%Y",)),  # ambiguous: day first, as in China
        (["2024年3月5日", "2024年12月31日"], ("%Y年%m月%d日",)),
        (["2024-03-05", "2023-12-31"], ("%Y-%m-%d",)),
        (["2024-03-05", "2023-12-31", "31/12/2023", "13/01/2022"], ("%Y-%m-%d", "%d/%m/%Y")),
        (["S00017", "hello"], ()),
    ],
)
def test_date_formats_are_detected(values, formats):
    assert detect_date_formats(values)[0] == formats


def test_european_decimals_get_a_comma_decimal_mark():
    euro = p("gehalt (EUR)", ["1.234,50", "12,00", "999,99", "2.000,10"])
    table = suggest_table("hr", "staff", [p("emp_no", ["1", "2", "3", "4"]), euro], DICTIONARY)
    salary = by_column(table)["gehalt (EUR)"]
    assert salary.options == {"currency": "EUR", "decimal_mark": ","}
    us = p("salary", ["4,067.36", "1,078.31", "12.50"])
    options = by_column(suggest_table("hr", "staff", [us], DICTIONARY))["salary"].options
    assert "decimal_mark" not in options


def test_money_currency_from_symbols_or_header():
    yuan = p("monthly_salary", ["¥12,345.00", "¥ 9,800", "15000.00"])
    assert by_column(suggest_table("hr", "employees", [yuan], DICTIONARY))[
        "monthly_salary"
    ].options == {"currency": "CNY"}
    usd = p("金额(USD)", ["4,067.36", "1,078.31", "141.80"])
    amount = by_column(suggest_table("finance", "invoices", [usd], DICTIONARY))["金额(USD)"]
    assert (amount.field, amount.options) == ("amount", {"currency": "USD"})
    bare = p("salary", ["12345.00", "9800.50"])
    salary = by_column(suggest_table("hr", "employees", [bare], DICTIONARY))["salary"]
    assert salary.problem and "currency" in salary.problem  # never written without one


def test_each_field_takes_one_column_and_each_column_one_field():
    columns = [
        p("email", EMAILS),
        p("mail", EMAILS),  # also an e-mail column, and a synonym: the weaker one loses
        p("emp_no", ["1", "2", "3", "4", "5", "6"]),
    ]
    table = suggest_table("hr", "staff", columns, DICTIONARY)
    fields = [s.field for s in table.fields]
    assert len(fields) == len(set(fields))
    assert by_column(table)["email"].field == "email"
    assert "mail" not in by_column(table) or by_column(table)["mail"].field != "email"
    assert "mail" in [c for c, _ in table.unmapped]
    # The greedy assignment itself: the stronger pair wins, the loser takes what is left.
    pairs = [
        Suggestion("t", "a", "e", "x", 0.9, ()),
        Suggestion("t", "b", "e", "x", 0.8, ()),
        Suggestion("t", "b", "e", "y", 0.6, ()),
    ]
    assert [(s.column, s.field) for s in assign(pairs)] == [("a", "x"), ("b", "y")]


def test_mapped_columns_and_fields_are_skipped():
    existing = TableMapping(
        entity="employee", updated_at="updatedAt", fields={"staffID": "employee_id"}
    )
    columns = [
        p("staff_id", ["S00001", "S00002"]),  # mapped as staffID: dlt wrote staff_id
        p("employee_no", ["E1", "E2"]),  # would fit employee_id, which is taken
        p("updated_at", ["2024-01-01T00:00:00Z"], db_type="TIMESTAMP WITH TIME ZONE"),
        p("name", NAMES),
    ]
    table = suggest_table("hr", "employees", columns, DICTIONARY, existing)
    assert (table.entity, table.entity_is_new) == ("employee", False)
    assert table.mapped == ["staff_id", "updated_at"]
    assert [(s.column, s.field) for s in table.fields] == [("name", "full_name")]
    assert "employee_id" not in {s.field for s in table.fields}
    assert table.updated_at is None  # the mapping has one already


def test_new_table_gets_the_entity_its_columns_fit_and_its_updated_at():
    columns = [
        p("id", ["C000001", "C000002", "C000003"]),
        p("company", ["北京新元物流有限公司", "Acme Ltd"]),
        p("tel", ["+86 180 3368 8333", "159-3291-3182", "17699913430"]),
        p("modified_at", ["2024-01-01 00:00:00"], db_type="TIMESTAMP"),
    ]
    table = suggest_table("crm", "accounts", columns, DICTIONARY)
    assert (table.entity, table.entity_is_new) == ("customer", True)
    assert {s.column: s.field for s in table.fields} == {
        "id": "customer_id",
        "company": "company_name",
        "tel": "phone_e164",
    }
    assert table.updated_at is not None and table.updated_at.column == "modified_at"


def test_a_new_system_is_mostly_mapped_without_help():
    """Names no synonym lists, in another system's style: words, abbreviations and values."""
    columns = [
        p("EmployeeCode", ["E-0001", "E-0002", "E-0003", "E-0004"]),
        p("EmployeeFullName", NAMES),
        p("Sex", ["male", "female", "female"]),
        p("JoinedOn", ["2019-04-01", "2021-10-15", "2023-01-09"]),
        p("BaseSalaryUSD", ["5200.00", "6100.50", "4800.00"]),
        p("WorkEmail", EMAILS),
        p("Remarks", ["prefers remote", "on leave", "new hire"]),
    ]
    table = suggest_table("payroll", "staff", columns, DICTIONARY)
    assert table.entity == "employee"
    found = {s.column: s.field for s in table.fields if s.confidence >= 0.5}
    expected = {
        "EmployeeCode": "employee_id",
        "EmployeeFullName": "full_name",
        "Sex": "gender",
        "JoinedOn": "hire_date",
        "BaseSalaryUSD": "monthly_salary",
        "WorkEmail": "email",
    }
    right = sum(found.get(c) == f for c, f in expected.items())
    assert right / len(expected) >= 0.8, found
    assert "Remarks" not in found


def test_name_evidence_explains_itself():
    field = DICTIONARY.entities["employee"].fields["employee_id"]
    assert name_evidence("emp_no", "employee", "employee_id", field) == (0.95, "synonym emp_no")
    score, why = name_evidence("EmployeeNumber", "employee", "employee_id", field)
    assert 0.5 < score < 0.95 and why.startswith("close to")
    assert name_evidence("xyz", "employee", "employee_id", field) == (0.0, "")


SPEC = SourceSpec.model_validate(
    {"name": "hr", "kind": "filesystem", "filesystem": {"bucket_url": "/x", "tables": [
        {"name": "employees", "glob": "e*.csv"}, {"name": "accounts", "glob": "a*.csv"}]}}
)  # fmt: skip


def result_for(tables, folder: Path) -> SourceSuggestions:
    """Suggestions for the `hr` source above, its mapping file (if any) in `folder`."""
    return SourceSuggestions(SPEC, DICTIONARY, folder / "hr.mapping.yaml", None, tables, [])


def test_accept_leaves_out_what_would_not_validate(tmp_path):
    staff = suggest_table(
        "hr",
        "employees",
        [p("emp_no", ["1", "2", "3"]), p("salary", ["12345.00", "9800.50"]), p("mail", EMAILS)],
        DICTIONARY,
    )
    orphan = suggest_table("hr", "accounts", [p("company", ["Acme Ltd", "Foo GmbH"])], DICTIONARY)
    additions, notes = accepted(result_for([staff, orphan], tmp_path), 0.5)
    assert [a.table for a in additions] == ["employees"]
    assert {e.key for e in additions[0].fields} == {"emp_no", "mail"}
    assert any("salary" in n and "currency" in n for n in notes)  # money without a currency
    assert any("accounts" in n and "customer_id" in n for n in notes)  # no key, no table


def validates(text: str) -> list:
    """What load_mappings would say about this text as hr.mapping.yaml."""
    mapping = Mapping.model_validate(yaml.safe_load(text))
    return check_mapping(Path("hr.mapping.yaml"), yaml.compose(text), mapping, SPEC, DICTIONARY)


def test_new_mapping_file_has_the_schema_line_and_validates():
    text = new_file(
        ["HR: its fields onto the dictionary."],
        [
            TableAddition(
                "employees", "employee", "updatedAt", [Entry("emp_no", "employee_id", "0.9")]
            )
        ],
    )
    assert text.startswith("# yaml-language-server: $schema=schemas/mapping.schema.json\n")
    assert validates(text) == []


def test_merging_keeps_comments_order_and_flow_style():
    text = (
        "# yaml-language-server: $schema=schemas/mapping.schema.json\n"
        "# HR's fields. Keep this comment.\n"
        "tables:\n"
        "  employees:\n"
        "    entity: employee  # the person\n"
        "    fields:\n"
        "      staffID: employee_id  # S00017 → E00017\n"
        "      # gender: gender  (waiting for HR)\n"
        "  accounts: {entity: customer, fields: {id: customer_id}}\n"
    )
    additions = [
        TableAddition(
            "employees",
            None,
            "updated_at",
            [Entry("hire_date", {"to": "hire_date", "formats": ["%d/%m/%Y"]}, "suggested 0.99")],
        ),
        TableAddition("accounts", None, None, [Entry("company", "company_name")]),
    ]
    merged = with_additions(text, additions)
    assert merged == (
        "# yaml-language-server: $schema=schemas/mapping.schema.json\n"
        "# HR's fields. Keep this comment.\n"
        "tables:\n"
        "  employees:\n"
        "    entity: employee  # the person\n"
        "    updated_at: updated_at\n"
        "    fields:\n"
        "      staffID: employee_id  # S00017 → E00017\n"
        "      hire_date: {to: hire_date, formats: ['%d/%m/%Y']}  # suggested 0.99\n"
        "      # gender: gender  (waiting for HR)\n"
        "  accounts: {entity: customer, fields: {id: customer_id, company: company_name}}\n"
    )
    assert validates(merged) == []


def test_report_has_one_line_per_suggestion_then_what_stays_unmapped(tmp_path):
    dates = ["2024年3月5日", "2023年11月20日"]
    table = suggest_table(
        "hr", "employees", [p("入职日期", dates), p("remarks", ["x", "y"])], DICTIONARY
    )
    lines = report_lines(result_for([table], tmp_path), 0.5)
    assert lines[0].startswith("employees → entity employee  confidence 0.95  (why: table name")
    assert re.fullmatch(
        r"employees\.入职日期 → employee\.hire_date  confidence 0\.\d\d  \(why: synonym 入职日期; "
        r"100% parse as %Y年%m月%d日\)  options \{formats: \['%Y年%m月%d日'\]\}",
        lines[1],
    )
    assert lines[-1].startswith("1 column(s) stay unmapped (nothing at or above 0.50): ")
    assert "employees.remarks" in lines[-1]


def test_nothing_is_written_when_the_result_would_not_validate(tmp_path):
    path = tmp_path / "hr.mapping.yaml"
    broken = "tables:\n  accounts:\n    entity: supplier\n    fields: {id: supplier_id}\n"
    path.write_text(broken, encoding="utf-8")
    staff = suggest_table("hr", "employees", [p("emp_no", ["1", "2", "3"])], DICTIONARY)
    result = result_for([staff], tmp_path)
    additions, _ = accepted(result, 0.5)
    with pytest.raises(SuggestError, match="no entity 'supplier'"):
        write_mapping(result, additions)
    assert path.read_text(encoding="utf-8") == broken


# --- the table's name, new entities, derived fields (issue 13, part 6) ---------------------

PHONES = ["+14155550100", "+14155550101", "+14155550102"]


def test_a_table_named_for_an_entity_is_that_entity_whatever_its_contact_columns():
    """Regression: `employee` with phone and e-mail columns was proposed as a customer."""
    columns = [
        p("empID", ["7001", "7002", "7003"], db_type="BIGINT", distinct=3, rows=3),
        p("phone", PHONES),
        p("email", EMAILS),
    ]
    for name in ("employee", "tblEmployees", "staff"):
        table = suggest_table("shop", name, columns, DICTIONARY)
        assert (table.entity, table.proposal) == ("employee", None), name
        assert table.entity_confidence >= 0.9 and "table name" in table.entity_why


@pytest.mark.parametrize(
    ("table", "columns", "entity"),
    [
        ("lkp_unit", [("id", ["1", "2", "3"]), ("name", ["Piece", "Box", "Pack"])], "unit"),
        (
            "categories",
            [("categoryID", ["1", "2"]), ("categoryName", ["Paper", "Desk"])],
            "category",
        ),
    ],
)
def test_a_lookup_of_an_id_and_a_name_is_proposed_as_a_new_entity(table, columns, entity):
    """Regression: lookup tables were forced onto department and product."""
    profiles = [p(n, v, db_type="BIGINT" if n.lower().endswith("id") else "VARCHAR",
                  distinct=len(v), rows=len(v)) for n, v in columns]  # fmt: skip
    suggested = suggest_table("shop", table, profiles, DICTIONARY)
    assert suggested.entity == entity and suggested.fields == []
    assert suggested.proposal is not None and "no entity fits" in suggested.entity_why
    definition = Dictionary.model_validate({"entities": {entity: suggested.proposal}})
    proposed = definition.entities[entity]
    assert proposed.key == normalize_name(columns[0][0]).text
    assert proposed.fields[proposed.key].type == "integer"


def test_accept_writes_proposals_as_dictionary_patches_and_never_merges_them(tmp_path):
    lookup_columns = [p("unitID", ["1", "2"], db_type="BIGINT"), p("unitName", ["Box", "Pack"])]
    lookup = suggest_table("hr", "lkp_unit", lookup_columns, DICTIONARY)
    result = result_for([lookup], tmp_path)
    assert accepted(result, 0.8) == ([], [])
    notes = write_proposals(result, tmp_path)
    path = tmp_path / "dictionary" / "proposed" / "unit.yaml"
    assert notes == [
        f"no entity fits table lkp_unit: proposed new entity unit in {path} — review it, move "
        "it into the dictionary, then suggest again"
    ]
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../../schemas/dictionary.schema.json")
    assert list(Dictionary.model_validate(yaml.safe_load(text)).entities) == ["unit"]
    path.write_text(text + "# reviewed\n", encoding="utf-8")
    assert "kept as it is" in write_proposals(result, tmp_path)[0]  # a person's edits stay
    assert path.read_text(encoding="utf-8").endswith("# reviewed\n")


def test_first_and_last_name_are_proposed_as_the_full_name_joined():
    columns = [
        p("emp_no", ["1", "2", "3"]),
        p("firstName", ["Maria", "James", "Aisha"]),
        p("lastName", ["Lopez", "Walker", "Okafor"]),
    ]
    table = suggest_table("shop", "employees", columns, DICTIONARY)
    full = by_column(table)["firstName"]
    assert (full.field, full.options, full.confidence) == ("full_name", {"join": ["lastName"]}, 0.9)
    assert "lastName" not in {c for c, _ in table.unmapped}
    text = new_file([], accepted(result_for([table], Path("/x")), 0.5)[0])
    assert "firstName: {to: full_name, join: [lastName]}" in text


def test_total_is_the_invoice_amount_in_the_currency_beside_it():
    """Regression: an invoice's `total` was matched to nothing (0.41)."""
    dictionary = Dictionary.model_validate(
        {"entities": {"invoice": {**DICTIONARY.entities["invoice"].model_dump(), "fields": {
            **DICTIONARY.entities["invoice"].model_dump()["fields"],
            "amount": {"type": "money", "description": "Amount.", "synonyms": ["total"]}}}}}
    )  # fmt: skip
    columns = [
        p("invoiceID", ["1001", "1002"], db_type="BIGINT", distinct=2, rows=2),
        p("total", ["120.50", "99.00"], db_type="DECIMAL(10,2)"),
        p("currencyCode", ["USD", "EUR"]),
    ]
    table = suggest_table("shop", "tblInvoice", columns, dictionary)
    assert "currencyCode" not in {c for c, _ in table.unmapped}  # it says the currency
    amount = by_column(table)["total"]
    assert (amount.field, amount.options, amount.problem) == (
        "amount", {"currency_field": "currencyCode"}, ""
    )  # fmt: skip
    assert amount.confidence >= 0.8


def test_a_column_named_for_another_entitys_synonym_reads_as_that_entity():
    """`client_id` in an invoice table is the customer's id (client is a customer synonym)."""
    dictionary = Dictionary.model_validate(
        {"entities": {
            "customer": {**DICTIONARY.entities["customer"].model_dump(), "synonyms": ["client"]},
            "order": {"description": "An order.", "key": "order_id", "fields": {
                "order_id": {"type": "integer", "description": "Id."},
                "customer_id": {"type": "id", "description": "Who ordered."}}},
        }}
    )  # fmt: skip
    columns = [p("order_id", ["1", "2"], db_type="BIGINT"), p("clientID", ["C1", "C2"])]
    found = by_column(suggest_table("shop", "orders", columns, dictionary))
    assert found["clientID"].field == "customer_id" and found["clientID"].confidence >= 0.8
