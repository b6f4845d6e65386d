"""`tributary …`: the commands people type (validate and run sources, run and serve the demo).

Only the commands that run something import Dagster, dbt or scikit-learn, inside their own
functions: the others start in a second or two (bench/startup.py, tests/unit/test_startup.py).
"""

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tributary.contracts.specfile import SpecErrors
from tributary.settings import Settings

STEPS = ("ingest", "build", "check", "publish")  # `tributary run --only` (automation/jobs.py)


def validate(settings: Settings) -> int:
    """Check every source file the way loading the definitions does; one line per mistake."""
    from tributary.contracts.alerts import load_alerts
    from tributary.contracts.api import load_api
    from tributary.contracts.dictionary import load_dictionary
    from tributary.contracts.mapping import load_mappings
    from tributary.contracts.rules import load_hand_rules
    from tributary.contracts.source import load_specs
    from tributary.ingest.sources import build_source

    try:
        specs = load_specs(settings.sources_dir)
        for spec in specs:
            build_source(spec)  # dlt's own validation of rest_api configs, shards, globs
        dictionary = load_dictionary(settings.sources_dir)
        mappings = load_mappings(settings.sources_dir, specs, dictionary)
        load_hand_rules(settings.sources_dir, dictionary)
        load_api(settings.sources_dir, settings.dbt_project_dir, dictionary)
        alerts = load_alerts(settings.sources_dir, [s.name for s in specs])
        check_mapped_columns(settings, mappings)
    except SpecErrors as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print(f"{len(exc.errors)} problem(s) in {settings.sources_dir}", file=sys.stderr)
        return 1
    except Exception as exc:  # dlt's validation names the key; keep it to one line
        print(f"{settings.sources_dir}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"{len(specs)} source(s), their mappings and the dictionary valid: "
        f"{', '.join(s.name for s in specs)}; {len(alerts.channels)} alert channel(s), "
        f"{len(alerts.routes)} route(s)"
    )
    return 0


def check_mapped_columns(settings: Settings, mappings: list) -> None:
    """Mapped source fields against the columns of the last load; say which were not checked."""
    from tributary.contracts.mapping import unknown_source_fields
    from tributary.ingest.last_load import last_load_columns

    errors = []
    for mapping in mappings:
        columns, loaded = last_load_columns(mapping.spec, settings)
        errors += unknown_source_fields(mapping, columns, loaded)
        unloaded = sorted(set(mapping.mapping.tables) - set(columns))
        if unloaded:
            print(
                f"{mapping.path}: not loaded yet, so the source fields of {', '.join(unloaded)} "
                "are not checked against its columns: load it, then validate again"
            )
    if errors:
        raise SpecErrors(errors)


def generate(settings: Settings, check: bool) -> int:
    """Write the dbt models and docs the dictionary and mappings imply, or with --check fail
    when the committed ones are stale."""
    from tributary.standardize.dbt_codegen.project import project_files, stale_files

    try:
        files = project_files(settings)
    except SpecErrors as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 1
    write, delete = stale_files(files, settings.dbt_project_dir)
    if check:
        for path in write + delete:
            print(f"{path}: stale — run `tributary generate` and commit it", file=sys.stderr)
        return 1 if write or delete else 0
    for path in write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
    for path in delete:
        path.unlink()
    print(f"{len(write)} file(s) written, {len(delete)} removed, {len(files)} up to date in all")
    return 0


def schema_files(settings: Settings) -> dict[Path, str]:
    """JSON Schemas of the source files, the dictionary, the rules, the alert channels and the
    API datasets, for editor completion."""
    from tributary.contracts.alerts import AlertsFile
    from tributary.contracts.api import ApiFile
    from tributary.contracts.dictionary import Dictionary
    from tributary.contracts.mapping import Mapping
    from tributary.contracts.rules import RulesFile
    from tributary.contracts.source import SourceSpec

    folder = settings.sources_dir / "schemas"
    return {
        folder / f"{name}.schema.json": json.dumps(
            model.model_json_schema(by_alias=True), indent=2, ensure_ascii=False
        )
        + "\n"
        for name, model in (
            ("source", SourceSpec),
            ("dictionary", Dictionary),
            ("mapping", Mapping),
            ("rules", RulesFile),
            ("api", ApiFile),
            ("alerts", AlertsFile),
        )
    }


def schema(settings: Settings, check: bool) -> int:
    """Write the JSON Schemas, or with --check fail when the committed ones are stale."""
    stale = [
        p
        for p, text in schema_files(settings).items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    if check:
        for path in stale:
            print(f"{path}: stale — run `tributary schema` and commit it", file=sys.stderr)
        return 1 if stale else 0
    for path, text in schema_files(settings).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def map_suggest(
    settings: Settings, source: str, table: str | None, min_confidence: float, accept: bool
) -> int:
    """Propose mappings for a source's unmapped raw columns; with --accept, write them."""
    from tributary.standardize.suggest.accept import accepted, write_mapping, write_proposals
    from tributary.standardize.suggest.report import report_lines
    from tributary.standardize.suggest.source import SuggestError, suggest_source

    try:
        result = suggest_source(settings.sources_dir, settings.warehouse, source, table)
        print("\n".join(report_lines(result, min_confidence)))
        if not accept:
            return 0
        additions, notes = accepted(result, min_confidence)
        for note in [*notes, *write_proposals(result, settings.sources_dir)]:
            print(note)
        if not additions:
            print(f"{result.path}: nothing to add at confidence ≥ {min_confidence:.2f}")
            return 0
        path = write_mapping(result, additions)
    except SuggestError as exc:
        print(f"tributary map suggest: {exc}", file=sys.stderr)
        return 1
    fields = sum(len(a.fields) for a in additions)
    print(f"wrote {path}: {fields} field(s) in {len(additions)} table(s) — review, then generate")
    return 0


def run(settings: Settings, sources: list[str], only: str | None) -> int:
    from tributary.run import run_sources

    return run_sources(settings, sources, only)


def metrics(settings: Settings, host: str, port: int) -> int:
    """Serve the Prometheus metrics of the instance `tributary run` and the daemon record to."""
    from tributary.definitions import build_definitions
    from tributary.operate.metrics import metrics_server
    from tributary.run import run_instance

    checks = build_definitions(settings).resolve_asset_graph().asset_check_keys
    server = metrics_server(run_instance(settings), checks, host, port)
    print(f"metrics on http://{host}:{server.server_port}/metrics", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def alerts_test(settings: Settings, channels: list[str]) -> int:
    """Send a test incident and its resolution to each channel (or the named ones)."""
    from tributary.contracts.alerts import load_alerts
    from tributary.contracts.source import load_specs
    from tributary.operate.probe import probe
    from tributary.operate.sensor import known_secrets

    try:
        specs = load_specs(settings.sources_dir)
        alerts = load_alerts(settings.sources_dir, [s.name for s in specs])
    except SpecErrors as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 1
    lines, failed = probe(alerts, channels, secrets=known_secrets(alerts, specs, os.environ))
    print("\n".join(lines))
    return 1 if failed else 0


def demo_run(settings: Settings, seed: int, scale: float) -> int:
    from tributary.demo_run import run_demo

    return run_demo(settings, seed=seed, scale=scale)


def demo_advance(settings: Settings, days: int, seed: int, scale: float) -> int:
    from demo_enterprise import DemoEnterprise

    day = DemoEnterprise(settings.demo_dir, seed=seed, scale=scale).advance(days)
    print(f"demo clock at day {day}")
    return 0


def demo_dev(settings: Settings, seed: int, scale: float, host: str) -> int:
    """The demo systems on fixed ports, and the Dagster UI on the same code location; all bound
    to ``host`` (loopback unless --host opens them: the UI has no authentication of its own)."""
    from demo_enterprise import DemoEnterprise
    from tributary.run import use_dagster_home

    enterprise = DemoEnterprise(settings.demo_dir, seed=seed, scale=scale)
    use_dagster_home(settings)  # the history `tributary run` writes, also typed outside make
    with enterprise.serve(hr_port=8701, crm_port=8702, host=host) as env:
        print(
            f"demo enterprise serving (day {enterprise.day}): HR {env['HR_BASE_URL']}, "
            f"CRM {env['CRM_BASE_URL']}, ERP {env['ERP_URL']}"
        )
        # `dagster dev` re-parses dbt with the `dbt` on PATH: the one beside this Python.
        bin_dir = os.path.dirname(sys.executable)
        path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
        cmd = [os.path.join(bin_dir, "dagster"), "dev", "-w", "workspace.yaml", "-h", host]
        with data_api(settings, host):
            return subprocess.call(
                cmd, env={**os.environ, **env, "PATH": path}, cwd=settings.project_root
            )


@contextmanager
def data_api(settings: Settings, host: str, port: int | None = None) -> Iterator[None]:
    """`tributary serve` beside the Dagster UI, on port 8800 (docs/api.md). Without
    TRIBUTARY_API_SIGNING_KEY it signs with a key made for this session only."""
    from tributary.serve.cli import DEFAULT_PORT
    from tributary.serve.tokens import new_signing_key

    key = settings.api_signing_key or new_signing_key()
    port = port or DEFAULT_PORT
    cmd = [sys.executable, "-m", "tributary.cli", "serve", "--host", host, "--port", str(port)]
    server = subprocess.Popen(cmd, env={**os.environ, "TRIBUTARY_API_SIGNING_KEY": key})
    print(f"Data API on http://{host}:{port}/docs (apps: `tributary api app create`)")
    try:
        yield
    finally:
        server.terminate()
        server.wait(10)


HOST_HELP = (
    "address the UI and demo systems bind (default loopback; 0.0.0.0 opens them to the "
    "network: put an authenticating proxy in front, see docs/operations.md)"
)


def _add_demo_commands(commands: argparse._SubParsersAction) -> None:
    """`tributary demo run|advance|dev`."""
    demo = commands.add_parser("demo", help="the demo enterprise")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True)
    for name, text in [
        ("run", "start the demo systems, build everything, publish, print a summary"),
        ("advance", "move the demo clock so new and changed records appear"),
        ("dev", "serve the demo systems and open the Dagster UI"),
    ]:
        sub = demo_commands.add_parser(name, help=text)
        sub.add_argument("--seed", type=int, default=7)
        sub.add_argument("--scale", type=float, default=1.0)
        if name == "advance":
            sub.add_argument("--days", type=int, default=1)
        if name == "dev":
            sub.add_argument("--host", default="127.0.0.1", help=HOST_HELP)


def command_line() -> argparse.ArgumentParser:
    """Every command and its arguments."""
    parser = argparse.ArgumentParser(prog="tributary", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("validate", help="check every file under sources/")
    run_command = commands.add_parser(
        "run", help="load sources, build what depends on them, check, publish, summarize"
    )
    run_command.add_argument("sources", nargs="*", metavar="SOURCE", help="default: all")
    run_command.add_argument(
        "--only", choices=STEPS, help="one part: raw loads, models, checks or the snapshot"
    )
    discover_command = commands.add_parser(
        "discover", help="add the tables matching a SQL source's `discover` patterns to its file"
    )
    discover_command.add_argument("source")
    discover_command.add_argument("--check", action="store_true", help="fail if tables are new")
    generate_command = commands.add_parser(
        "generate", help="write the dbt models and docs the dictionary and mappings imply"
    )
    generate_command.add_argument("--check", action="store_true", help="fail if they are stale")
    map_command = commands.add_parser("map", help="map source columns onto the dictionary")
    map_commands = map_command.add_subparsers(dest="map_command", required=True)
    suggest_command = map_commands.add_parser(
        "suggest", help="propose mappings for a source's unmapped raw columns, with confidences"
    )
    suggest_command.add_argument("source")
    suggest_command.add_argument("--table", help="only this table of the source")
    suggest_command.add_argument(
        "--min-confidence", type=float, default=0.8, help="the least confidence to accept"
    )
    suggest_command.add_argument(
        "--accept", action="store_true", help="write them into sources/<source>.mapping.yaml"
    )
    schema_command = commands.add_parser("schema", help="write the JSON Schemas for editors")
    schema_command.add_argument("--check", action="store_true", help="fail if they are stale")
    alerts_command = commands.add_parser("alerts", help="the alert channels")
    alerts_commands = alerts_command.add_subparsers(dest="alerts_command", required=True)
    test_command = alerts_commands.add_parser(
        "test", help="send a test incident and its resolution to each channel"
    )
    test_command.add_argument("channels", nargs="*", metavar="CHANNEL", help="default: all")
    metrics_command = commands.add_parser("metrics", help="serve Prometheus metrics")
    metrics_command.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default loopback)"
    )
    metrics_command.add_argument("--port", type=int, default=9464)
    _add_demo_commands(commands)
    from tributary.serve.cli import add_commands

    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = command_line().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "validate":
        return validate(settings)
    if args.command == "run":
        return run(settings, args.sources, args.only)
    if args.command == "schema":
        return schema(settings, args.check)
    if args.command == "generate":
        return generate(settings, args.check)
    if args.command == "map":
        return map_suggest(settings, args.source, args.table, args.min_confidence, args.accept)
    if args.command == "alerts":
        return alerts_test(settings, args.channels)
    if args.command == "metrics":
        return metrics(settings, args.host, args.port)
    if args.command == "discover":
        from tributary.ingest.kinds.sql_database.discover import discover

        return discover(settings, args.source, check=args.check)
    if args.command in ("serve", "api"):
        from tributary.serve.cli import api_command, serve

        return serve(settings, args) if args.command == "serve" else api_command(settings, args)
    if args.demo_command == "run":
        return demo_run(settings, args.seed, args.scale)
    if args.demo_command == "advance":
        return demo_advance(settings, args.days, args.seed, args.scale)
    return demo_dev(settings, args.seed, args.scale, args.host)


if __name__ == "__main__":
    raise SystemExit(main())
