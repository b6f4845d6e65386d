"""`tributary map suggest` on raw tables loaded the way the platform loads them (the real dlt
ingest of the demo enterprise, at a small scale), with the demo's mapping files hidden.

The demo's mapping files are the answer key: for every column they map, the suggestion must
name the same entity and field. The hit rate is printed per source and asserted overall.
"""

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import jinja2
import pytest
from dagster_dlt import DagsterDltResource

from demo_enterprise import DemoEnterprise
from tributary.cli import main
from tributary.contracts.dictionary import Dictionary, load_dictionary
from tributary.contracts.mapping import SourceMapping, load_mappings
from tributary.contracts.resolved import mapped_tables
from tributary.contracts.source import load_specs
from tributary.demo_run import environment
from tributary.ingest.assets import build_ingest
from tributary.settings import PROJECT_ROOT, Settings
from tributary.standardize.dbt_codegen.staging import staging_sql
from tributary.standardize.suggest.names import normalize_name
from tributary.standardize.suggest.source import suggest_source

SOURCES = ["hr", "crm", "erp", "finance"]
MIN_CONFIDENCE = 0.5  # what `--accept` writes by default: a hit must reach it


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The four demo sources ingested by dlt (the `ingest` group only) into a temporary
    warehouse; the sources folder beside it holds no mapping files."""
    root = tmp_path_factory.mktemp("map_suggest")
    sources = root / "sources"
    shutil.copytree(
        PROJECT_ROOT / "sources", sources, ignore=shutil.ignore_patterns("*.mapping.yaml")
    )
    settings = Settings.from_env(
        {"TRIBUTARY_DATA_DIR": str(root / "data"), "TRIBUTARY_SOURCES_DIR": str(sources)}
    )
    ingest, _ = build_ingest(settings, load_specs(sources))
    enterprise = DemoEnterprise(settings.demo_dir, seed=5, scale=0.1)
    with enterprise.serve() as env, environment(env):
        result = dg.materialize(
            ingest, resources={"dlt": DagsterDltResource()}, instance=dg.DagsterInstance.ephemeral()
        )
    assert result.success
    return settings


@pytest.fixture(scope="module")
def truth() -> dict[str, SourceMapping]:
    """The demo's own mapping files: what a person decided."""
    sources = PROJECT_ROOT / "sources"
    mappings = load_mappings(sources, load_specs(sources), load_dictionary(sources))
    return {m.name: m for m in mappings}


def score(settings: Settings, truth: dict[str, SourceMapping], dictionary=None) -> dict:
    """Per source: (right, mapped columns, false suggestions, wrong entities, misses)."""
    results = {}
    for source in SOURCES:
        suggested = suggest_source(
            settings.sources_dir, settings.warehouse, source, dictionary=dictionary
        )
        real = truth[source]
        right = total = false = 0
        wrong_entities, misses = [], []
        for table in suggested.tables:
            answer = real.mapping.tables[table.table]
            if table.entity != answer.entity:
                wrong_entities.append(f"{table.table}: {table.entity} (not {answer.entity})")
            expected = {real.raw_column(k): f.to for k, f in answer.field_maps().items()}
            got = {s.column: s for s in table.fields if s.confidence >= MIN_CONFIDENCE}
            for column, field in expected.items():
                total += 1
                hit = table.entity == answer.entity and column in got and got[column].field == field
                right += hit
                if not hit:
                    guess = got.get(column)
                    misses.append(f"{table.table}.{column}: {guess and guess.field} (not {field})")
            false += sum(1 for column in got if column not in expected)
        results[source] = (right, total, false, wrong_entities, misses)
    return results


def report(title: str, results: dict) -> tuple[float, str]:
    right = sum(r[0] for r in results.values())
    total = sum(r[1] for r in results.values())
    lines = [title]
    for source, (r, t, false, wrong, misses) in results.items():
        lines.append(
            f"  {source:<8} {r:>3}/{t:<3} = {r / t:.0%}   false suggestions: {false}"
            + "".join(f"\n    wrong entity {w}" for w in wrong)
            + "".join(f"\n    miss {m}" for m in misses)
        )
    lines.append(f"  overall  {right:>3}/{total:<3} = {right / total:.1%}")
    return right / total, "\n".join(lines)


def calibration(settings: Settings, truth: dict[str, SourceMapping], at: float) -> tuple:
    """Of the suggestions at or above `at` (entity and field), how many the demo's mappings
    make too: (right, all)."""
    right = total = 0
    for source in SOURCES:
        real = truth[source]
        for table in suggest_source(settings.sources_dir, settings.warehouse, source).tables:
            answer = real.mapping.tables[table.table]
            expected = {real.raw_column(k): f.to for k, f in answer.field_maps().items()}
            for s in table.fields:
                if s.confidence >= at:
                    total += 1
                    right += table.entity == answer.entity and expected.get(s.column) == s.field
    return right, total


def test_suggestions_at_0_8_are_nine_in_ten_right(loaded, truth, capsys):
    right, total = calibration(loaded, truth, 0.8)
    with capsys.disabled():
        print(f"\nmap suggest on the demo: {right}/{total} right at confidence ≥ 0.8")
    assert total >= 30 and right / total >= 0.9, (right, total)


def test_suggestions_find_the_demo_mappings(loaded, truth, capsys):
    results = score(loaded, truth)
    rate, text = report(
        f"map suggest hit rate (demo mappings hidden, confidence ≥ {MIN_CONFIDENCE}):", results
    )
    with capsys.disabled():
        print("\n" + text)
    assert all(not wrong for *_, wrong, _ in results.values()), text
    assert rate >= 0.8, text


def without_demo_names(dictionary: Dictionary, truth: dict[str, SourceMapping]) -> Dictionary:
    """The dictionary minus every synonym that is literally one of the demo's column names:
    what names (by their words), the glossary and the values achieve on their own."""
    names = {
        normalize_name(n).text
        for m in truth.values()
        for t in m.mapping.tables.values()
        for k in t.fields
        for n in (k, m.raw_column(k))
    }
    data = dictionary.model_dump()
    for entity in data["entities"].values():
        for field in entity["fields"].values():
            field["synonyms"] = [
                s for s in field["synonyms"] if normalize_name(s).text not in names
            ]
    return Dictionary.model_validate(data)


def test_suggestions_without_the_demo_names_as_synonyms(loaded, truth, capsys):
    """Not tuned by synonyms: with the demo's own names taken out of the dictionary, most
    fields are still found (a measure for a new system, reported beside the one above)."""
    blind = without_demo_names(load_dictionary(loaded.sources_dir), truth)
    rate, text = report(
        "map suggest hit rate without the demo's column names as synonyms:",
        score(loaded, truth, blind),
    )
    with capsys.disabled():
        print("\n" + text)
    assert rate >= 0.6, text


# --- --accept, through the CLI ------------------------------------------------------------


@pytest.fixture
def cli(loaded: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`tributary …` on a private copy of the (mapping-less) sources and the loaded warehouse."""
    sources = tmp_path / "sources"
    shutil.copytree(loaded.sources_dir, sources)
    monkeypatch.setenv("TRIBUTARY_SOURCES_DIR", str(sources))
    monkeypatch.setenv("TRIBUTARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRIBUTARY_WAREHOUSE", str(loaded.warehouse))
    return sources


MACROS = re.sub(
    r"\{% test .*?\{% endtest %\}",
    "",
    (PROJECT_ROOT / "dbt_project" / "macros" / "convert.sql").read_text(encoding="utf-8"),
    flags=re.S,
)


def staged(warehouse: Path, mapping: SourceMapping, dictionary: Dictionary) -> dict:
    """Each table's generated staging model, rendered without dbt and run on the warehouse:
    {table: {canonical field: Counter of its values}}."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for t in mapped_tables([mapping], dictionary):
            sql = (
                jinja2.Environment()
                .from_string(MACROS + staging_sql(t))
                .render(source=lambda schema, table: f"{schema}.{table}")
            )
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            out[t.table] = {
                n: Counter(r[i] for r in rows)
                for i, n in enumerate(names)
                if not n.startswith("_")  # canonical fields, not lineage
            }
    return out


def accept_and_compare(sources: Path, source: str, warehouse: Path, truth) -> tuple[str, dict]:
    dictionary = load_dictionary(sources)
    written = {m.name: m for m in load_mappings(sources, load_specs(sources), dictionary)}[
        source
    ]  # it validates, as `tributary validate` and the definitions load it
    mine = staged(warehouse, written, dictionary)
    real = staged(warehouse, truth[source], load_dictionary(PROJECT_ROOT / "sources"))
    for table, columns in mine.items():
        for field, values in columns.items():
            assert field in real[table], f"{source}.{table}.{field}: the real mapping has none"
            assert values == real[table][field], f"{source}.{table}.{field}"
    return (sources / f"{source}.mapping.yaml").read_text(encoding="utf-8"), mine


def test_accept_writes_a_mapping_that_stages_like_the_real_one(cli, loaded, truth, capsys):
    # at 0.5 (the default 0.8 leaves out invoices, whose re-exported invoice numbers repeat)
    assert main(["map", "suggest", "finance", "--accept", "--min-confidence", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "invoices.日期 → invoice.invoice_date" in out
    text, staged_fields = accept_and_compare(cli, "finance", loaded.warehouse, truth)
    assert text.startswith("# yaml-language-server: $schema=schemas/mapping.schema.json\n")
    assert "日期: {to: invoice_date, formats: ['%Y年%m月%d日']}" in text
    # Every field the real mapping stages, the accepted one stages with the same values.
    assert set(staged_fields["invoices"]) >= {"invoice_id", "invoice_date", "amount"}


def test_accept_merges_into_an_existing_mapping_and_keeps_it(cli, loaded, truth, capsys):
    (cli / "hr.mapping.yaml").write_text(
        "# yaml-language-server: $schema=schemas/mapping.schema.json\n"
        "# HR, mapped by hand so far: keep this comment.\n"
        "tables:\n"
        "  employees:\n"
        "    entity: employee\n"
        "    fields:\n"
        "      staffID: employee_id  # S00017 → E00017\n"
        "      hireDate: {to: hire_date, formats: ['%d/%m/%Y']}\n",
        encoding="utf-8",
    )
    assert main(["map", "suggest", "hr", "--accept", "--min-confidence", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "employees.staff_id" not in out  # mapped already, as staffID
    text, staged_fields = accept_and_compare(cli, "hr", loaded.warehouse, truth)
    assert text.startswith(
        "# yaml-language-server: $schema=schemas/mapping.schema.json\n"
        "# HR, mapped by hand so far: keep this comment.\n"
    )
    assert "      staffID: employee_id  # S00017 → E00017\n" in text
    assert "    updated_at: updated_at\n" in text
    assert set(staged_fields) == {"employees", "departments"}
    # Accepting again finds nothing new and leaves the file as it is.
    assert main(["map", "suggest", "hr", "--accept", "--min-confidence", "0.5"]) == 0
    assert (cli / "hr.mapping.yaml").read_text(encoding="utf-8") == text


def test_errors_are_one_line_without_traceback(cli, loaded, capsys, monkeypatch):
    def error(*argv: str) -> str:
        assert main(["map", "suggest", *argv]) == 1
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        assert len(captured.err.strip().splitlines()) == 1, captured.err
        return captured.err

    assert "no source 'hrr'" in error("hrr") and "did you mean `hr`?" in error("hrr")
    assert "no table 'staff'" in error("hr", "--table", "staff")

    # A source whose tables have not been loaded yet.
    (cli / "billing.yaml").write_text(
        "name: billing\nkind: filesystem\nfilesystem:\n  bucket_url: /nowhere\n"
        "  tables:\n    - name: bills\n      glob: '*.csv'\n",
        encoding="utf-8",
    )
    assert "raw_billing is not loaded yet — load the billing source first" in error("billing")

    # A load holding the warehouse (DuckDB allows one writer, and readers wait for none).
    holder = duckdb.connect(str(loaded.warehouse))
    try:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("tributary")), "map", "suggest", "hr"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.close()
    assert result.returncode == 1
    assert "locked by a running load" in result.stderr and "Traceback" not in result.stderr
