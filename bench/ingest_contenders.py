"""One contender of the ingest benchmark, one phase, in a process of its own.

Run by ``bench/ingest.py`` (never by hand): ``python bench/ingest_contenders.py CONTENDER PHASE
--workdir DIR --schema S --table T [--sample-rows N]``. It times the load call itself (imports and
interpreter start excluded, the same for every contender; pandas is imported before the timing,
as a Dagster run process has it) and prints one JSON line: seconds, rows loaded and the DuckDB
table the result went to. Otherwise only the standard library is imported up front: the DuckDB
postgres scanner runs here under a different virtualenv (duckdb 1.5.5), where neither Tributary
nor dlt is installed.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_SQLALCHEMY = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
KEY = ["l_orderkey", "l_linenumber"]
CURSOR = "updated_at"

Result = tuple[float, int, str]  # seconds, rows loaded, DuckDB table holding the result


def scanner(args: argparse.Namespace) -> Result:
    """DuckDB's postgres scanner: the practical ceiling (parallel COPY, no files in between).

    duckdb 2.0 cannot load the extension offline, so this runs under duckdb 1.5.5 with the
    extension from the ``duckdb-extension-postgres`` wheel. The wheel ships the binary as
    ``postgres.duckdb_extension`` but its entry point is ``postgres_scanner_duckdb_cpp_init``,
    and LOAD derives the entry point from the file name: so it is linked under that name.
    """
    import duckdb
    import duckdb_extension_postgres

    shipped = next(Path(duckdb_extension_postgres.__file__).parent.glob("extensions/*/*.duckdb_*"))
    linked = args.workdir / "postgres_scanner.duckdb_extension"
    linked.unlink(missing_ok=True)
    linked.symlink_to(shipped)
    started = time.perf_counter()
    con = duckdb.connect(str(args.workdir / "scanner.duckdb"))
    con.execute(f"LOAD '{linked}'")
    con.execute(f"ATTACH '{PG_DSN}' AS pg (TYPE postgres, READ_ONLY)")
    con.execute(f'CREATE TABLE lineitem AS SELECT * FROM pg."{args.schema}"."{args.table}"')
    con.close()
    return time.perf_counter() - started, _count(args.workdir / "scanner.duckdb"), "main.lineitem"


def connectorx(args: argparse.Namespace) -> Result:
    """connectorx straight into DuckDB: an Arrow stream scanned by a CREATE TABLE AS."""
    import connectorx as cx
    import duckdb

    started = time.perf_counter()
    reader = cx.read_sql(
        PG_URL,
        f'SELECT * FROM "{args.schema}"."{args.table}"',
        return_type="arrow_stream",
        batch_size=100_000,
    )
    con = duckdb.connect(str(args.workdir / "connectorx.duckdb"))
    con.register("source", reader)
    con.execute("CREATE TABLE lineitem AS SELECT * FROM source")
    con.close()
    return (
        time.perf_counter() - started,
        _count(args.workdir / "connectorx.duckdb"),
        "main.lineitem",
    )


def _count(database: Path) -> int:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("SELECT count(*) FROM lineitem").fetchone()[0]


def _dlt(args: argparse.Namespace, backend: str) -> Result:
    """Plain dlt: ``sql_table`` with the same cursor and merge key as Tributary, its defaults
    otherwise (the default backend is sqlalchemy; connectorx reads the whole table at once)."""
    import dlt
    from dlt.sources.sql_database import sql_table

    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{args.contender}",
        destination=dlt.destinations.duckdb(str(args.workdir / f"{args.contender}.duckdb")),
        dataset_name="raw",
        pipelines_dir=str(args.workdir / "dlt"),
    )
    resource = sql_table(
        PG_SQLALCHEMY,
        table=args.table,
        schema=args.schema,
        backend=backend,
        incremental=dlt.sources.incremental(CURSOR),
        primary_key=KEY,
        write_disposition="merge",
    )
    if args.sample_rows:
        resource.add_limit(args.sample_rows, count_rows=True)
    started = time.perf_counter()
    pipeline.run(resource).raise_on_failed_jobs()
    seconds = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts.get(args.table, 0)
    return seconds, rows, f"raw.{args.table}"


def tributary(args: argparse.Namespace, streaming: bool = True) -> Result:
    """Tributary's SQL source as a user declares it, through the pipeline its assets use.

    ``streaming=False`` turns off the streamed full load
    (``ingest/kinds/sql_database/stream.py``): the full load then goes through dlt's load
    files, as every load did before, for comparison.
    """
    if not streaming:
        import tributary.ingest.kinds.sql_database.source

        tributary.ingest.kinds.sql_database.source.can_stream = lambda name: False
    from tributary.contracts.source import SourceSpec
    from tributary.ingest.pipeline import loaded_rows, pipeline_for
    from tributary.ingest.sources import build_source
    from tributary.settings import Settings

    spec = SourceSpec.model_validate(
        {
            "name": "tpch",
            "kind": "sql_database",
            "sql_database": {
                "credentials": "${TPCH_URL}",
                "schema": args.schema,
                "tables": [
                    {
                        "name": "lineitem",
                        "table": args.table,
                        "primary_key": KEY,
                        "incremental": CURSOR,
                    }
                ],
            },
        }
    )
    settings = Settings.from_env({"TRIBUTARY_DATA_DIR": str(args.workdir / args.contender)})
    pipeline = pipeline_for(spec, settings)
    started = time.perf_counter()
    pipeline.run(build_source(spec, environ={"TPCH_URL": PG_SQLALCHEMY})).raise_on_failed_jobs()
    seconds = time.perf_counter() - started
    rows = loaded_rows(pipeline).get("lineitem", 0)  # a streamed full load bypasses dlt's count
    return seconds, rows, f"{spec.dataset}.lineitem"


def sling(args: argparse.Namespace) -> Result:
    """Sling in incremental mode (its first run creates and fills the table).

    Sling writes DuckDB through the DuckDB CLI, which it would download: it gets the CLI of the
    ``duckdb-cli`` wheel instead (DUCKDB_PATH). Sling runs ``INSTALL json`` although the CLI has
    json built in, so a placeholder file in the extension folder of a private HOME makes that a
    no-op, and ``copy_method=named_pipes`` avoids the default ``csv_http``, which needs httpfs.
    """
    home = args.workdir / "sling_home"
    version = subprocess.run(
        [args.duckdb_cli, "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    extensions = home / ".duckdb" / "extensions" / version / "linux_amd64"
    extensions.mkdir(parents=True, exist_ok=True)
    (extensions / "json.duckdb_extension").touch()
    env = {
        **os.environ,
        "HOME": str(home),
        "DUCKDB_PATH": args.duckdb_cli,
        "SLING_PG": f"{PG_URL}?sslmode=disable",
        "SLING_DUCK": f"duckdb://{args.workdir / 'sling.duckdb'}?copy_method=named_pipes",
    }
    command = [
        os.environ["SLING_BINARY"],
        "run",
        *("--src-conn", "SLING_PG", "--src-stream", f"{args.schema}.{args.table}"),
        *("--tgt-conn", "SLING_DUCK", "--tgt-object", "main.lineitem"),
        *("--mode", "incremental", "--primary-key", ",".join(KEY), "--update-key", CURSOR),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"sling failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    inserted = re.findall(r"inserted (\d+) rows", done.stdout + done.stderr)
    return seconds, int(inserted[-1]) if inserted else 0, "main.lineitem"


CONTENDERS: dict[str, Callable[[argparse.Namespace], Result]] = {
    "scanner": scanner,
    "connectorx": connectorx,
    "tributary": tributary,
    "tributary_files": lambda args: tributary(args, streaming=False),
    "dlt_connectorx": lambda args: _dlt(args, "connectorx"),
    "dlt_pyarrow": lambda args: _dlt(args, "pyarrow"),
    "dlt_default": lambda args: _dlt(args, "sqlalchemy"),
    "sling": sling,
}


def _preload_pandas() -> None:
    """pandas imported before the timing, as in the process that runs a Dagster asset (the
    definitions import it, through pandera): pyarrow imports it on its first conversion of a
    Python value (a cursor value, say), which would otherwise put ~0.5 s of import into the
    first timed call that converts one, whichever contender that is. Not in the scanner's
    virtualenv, which has no pandas."""
    with suppress(ImportError):
        import pandas  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("contender", choices=sorted(CONTENDERS))
    parser.add_argument("phase", choices=["full", "noop", "incremental"])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--sample-rows", type=int, default=0)
    parser.add_argument("--duckdb-cli", default="")
    args = parser.parse_args()
    _preload_pandas()
    seconds, rows, table = CONTENDERS[args.contender](args)
    print(json.dumps({"seconds": seconds, "rows": rows, "table": table}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
