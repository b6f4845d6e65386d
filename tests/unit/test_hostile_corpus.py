"""`tributary validate` against hostile and malformed declarations (issue 19).

The cases are data (``hostile_corpus.yaml``): each writes one file into a copy of the demo's
``sources/`` and must come back as one error line naming that file and line, the field and a
key phrase of the fix — never accepted, never a traceback. ``run_corpus`` is also what
``make chaos`` reports as ``bad_inputs=<tried> clear=<n> tracebacks=<n>``.
"""

import contextlib
import dataclasses
import io
import shutil
import tempfile
import traceback
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tributary import cli
from tributary.settings import PROJECT_ROOT, Settings

CORPUS = Path(__file__).with_name("hostile_corpus.yaml")
# Valid heads the cases continue; the line numbers in the corpus count from their first line.
HEADS = {
    "{sql}": "name: zz\nkind: sql_database\nsql_database:\n  credentials: ${ZZ_URL}\n"
    "  tables:\n    - name: a",
    "{files}": "name: zz\nkind: filesystem\nfilesystem:\n  bucket_url: ${ZZ_DIR}\n  tables:",
    "{rest}": "name: zz\nkind: rest_api\nrest_api:\n  client:\n    base_url: ",
    "{mapping}": "tables:\n  products:\n    entity: product\n    updated_at: updated_at\n"
    "    fields:\n      product_id: product_id\n      sku: sku\n      product_name: product_name",
    "{long}": "c" * 300,
    "{deep}": "[" * 5000 + "]" * 5000,
}


@dataclasses.dataclass
class Outcome:
    case: dict[str, Any]
    path: Path
    code: int | None
    output: str
    traceback: str = ""

    @property
    def clear(self) -> bool:
        """Refused, with one line naming the file and line, the field and the fix."""
        # A file too broken to point into (nested too deeply) is named without a line.
        line = self.case["line"]
        where = f"{self.path}:{line}:" if line else f"{self.path}: "
        return self.code == 1 and any(
            line.startswith(where) and self.case["field"] in line and self.case["fix"] in line
            for line in self.output.splitlines()
        )


def cases() -> list[dict[str, Any]]:
    return yaml.safe_load(CORPUS.read_text(encoding="utf-8"))


def _text(case: dict[str, Any]) -> str:
    text = case["text"]
    for placeholder, head in HEADS.items():
        text = text.replace(placeholder, head)
    return text


def _warehouse(path: Path, tables: dict[str, list[str]]) -> None:
    """A warehouse as the last ERP load left it: raw_erp.<table> with these columns."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw_erp")
        for table, columns in tables.items():
            listed = ", ".join(f'"{c}" varchar' for c in columns)
            con.execute(f'create table raw_erp."{table}" ({listed})')


def try_case(case: dict[str, Any], folder: Path) -> Outcome:
    """Validate a copy of sources/ with the case's file written into it."""
    sources = folder / "sources"
    shutil.copytree(PROJECT_ROOT / "sources", sources)
    path = sources / case.get("file", "zz.yaml")
    path.write_bytes(_text(case).encode(case.get("encoding", "utf-8")))
    settings = dataclasses.replace(
        Settings.from_env({"TRIBUTARY_DATA_DIR": str(folder / "data")}), sources_dir=sources
    )
    if "warehouse" in case:
        settings.warehouse.parent.mkdir(parents=True)
        _warehouse(settings.warehouse, case["warehouse"])
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = cli.validate(settings)
    except BaseException:  # a traceback is exactly what the corpus must never see
        return Outcome(case, path, None, out.getvalue(), traceback.format_exc())
    return Outcome(case, path, code, out.getvalue())


def run_corpus() -> tuple[int, int, int]:
    """(cases tried, refused with their specific message, tracebacks)."""
    outcomes = []
    for case in cases():
        with tempfile.TemporaryDirectory(prefix="tributary-hostile-") as folder:
            outcomes.append(try_case(case, Path(folder)))
    return len(outcomes), sum(o.clear for o in outcomes), sum(bool(o.traceback) for o in outcomes)


def test_the_corpus_is_large_and_its_ids_unique():
    ids = [case["id"] for case in cases()]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", cases(), ids=lambda case: case["id"])
def test_each_hostile_declaration_is_refused_with_its_message(case, tmp_path):
    outcome = try_case(case, tmp_path)
    assert not outcome.traceback, outcome.traceback
    assert outcome.code == 1, f"accepted: {outcome.output}"
    assert outcome.clear, outcome.output


def test_python_tags_never_run(tmp_path):
    marker = Path("/tmp/hostile/pwned")
    [case] = [c for c in cases() if c["id"] == "python object constructor"]
    try_case(case, tmp_path)
    assert not marker.exists()


def test_literal_secrets_pass_only_when_the_file_allows_them(tmp_path):
    case = {
        "text": "name: zz\nkind: sql_database\nallow_literal_secrets: true\nsql_database:\n"
        "  credentials: postgresql://postgres:hunter2@127.0.0.1/test\n  tables: [{name: a}]\n",
        "line": 0,
        "field": "",
        "fix": "",
    }
    outcome = try_case(case, tmp_path)
    assert outcome.code == 0, outcome.output
    assert "hunter2" not in outcome.output


def test_a_source_never_loaded_is_named_as_not_checked(tmp_path):
    [case] = [c for c in cases() if c["id"].startswith("mapped source column that")]
    outcome = try_case({k: v for k, v in case.items() if k != "warehouse"}, tmp_path)
    assert outcome.code == 0, outcome.output
    assert f"{outcome.path}: not loaded yet" in outcome.output
    assert "are not checked against its columns" in outcome.output


def test_run_corpus_counts_every_case_clear():
    tried, clear, tracebacks = run_corpus()
    assert (tried, clear, tracebacks) == (len(cases()), len(cases()), 0)


if __name__ == "__main__":  # the line `make chaos` folds into its summary
    tried, clear, tracebacks = run_corpus()
    print(f"bad_inputs={tried} clear={clear} tracebacks={tracebacks}")
