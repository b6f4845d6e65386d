"""`tributary serve` and `tributary api …`: start the Data API, manage its apps and keys."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from tributary.contracts.specfile import SpecErrors
from tributary.settings import Settings

DEFAULT_PORT = 8800
HOST_HELP = (
    "address to bind (default loopback; 0.0.0.0 opens it to the network: set --certfile and "
    "--keyfile, or put a TLS-terminating proxy in front, see docs/api.md)"
)


def add_commands(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve the analyst snapshot as the Data API")
    serve.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--certfile", help="TLS certificate (PEM): serve HTTPS")
    serve.add_argument("--keyfile", help="its private key (PEM)")
    api = commands.add_parser("api", help="the Data API's apps and signing keys")
    api_commands = api.add_subparsers(dest="api_command", required=True)
    keygen = api_commands.add_parser("keygen", help="print a new ES256 signing key (PEM)")
    keygen.add_argument(
        "--aksk", action="store_true", help="instead: a key for TRIBUTARY_API_AKSK_KEY"
    )
    diff = api_commands.add_parser(
        "diff", help="what changed between a running API's OpenAPI and the declarations now"
    )
    diff.add_argument(
        "against", nargs="?", default=f"http://127.0.0.1:{DEFAULT_PORT}",
        help="the running server's URL, or an OpenAPI file",
    )  # fmt: skip
    app = api_commands.add_parser("app", help="apps that may call the API").add_subparsers(
        dest="app_command", required=True
    )
    app.add_parser("create", help="a new app; prints its secret once").add_argument("name")
    grant = app.add_parser("grant", help="let an app read datasets until a date, at a rate")
    grant.add_argument("name")
    grant.add_argument("--datasets", required=True, help="comma-separated dataset names")
    grant.add_argument("--expires", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    grant.add_argument("--rate", type=int, default=600, help="requests per minute per dataset")
    grant.add_argument("--personal", default="", help="personal kinds it may see (contact,…)")
    grant.add_argument(
        "--rows", action="append", default=[], metavar="FIELD=V1,V2",
        help="only rows whose FIELD is one of these values (repeatable: every one must hold)",
    )  # fmt: skip
    app.add_parser("revoke", help="refuse the app from its next request on").add_argument("name")
    app.add_parser("key", help="an AK/SK pair for request signing; SK shown once").add_argument(
        "name"
    )
    app.add_parser("list", help="every app and its grants")


def _api(settings: Settings):
    from tributary.contracts.api import load_api
    from tributary.contracts.dictionary import load_dictionary

    dictionary = load_dictionary(settings.sources_dir)
    api = load_api(settings.sources_dir, settings.dbt_project_dir, dictionary)
    if api is None:
        raise SystemExit(
            "no sources/api/datasets.yaml: declare the datasets to serve (docs/api.md)"
        )
    return api


def store(settings: Settings):
    from tributary.serve.apps import AppStore

    return AppStore(settings.api_dir / "apps.sqlite")


def build(settings: Settings):
    """The ASGI app for these settings (the tests serve it too)."""
    from tributary.serve.app import create_app
    from tributary.serve.audit import AuditLog
    from tributary.serve.datasets import Context
    from tributary.serve.limits import RateLimiter
    from tributary.serve.signing import RequestSigning
    from tributary.serve.snapshot import Snapshot
    from tributary.serve.tokens import Signer

    if not settings.api_signing_key:
        raise SystemExit("TRIBUTARY_API_SIGNING_KEY is not set: `tributary api keygen` makes one")
    try:
        signer = Signer(settings.api_signing_key, settings.api_previous_key, settings.api_issuer,
                        settings.api_audience)  # fmt: skip
        signing = RequestSigning(settings.api_aksk_key) if settings.api_aksk_key else None
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    ctx = Context(_api(settings), signer, store(settings), RateLimiter(),
                  Snapshot(settings.snapshot), signing)  # fmt: skip
    return create_app(ctx, AuditLog(settings.api_dir / "audit"))


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    try:
        app = build(settings)
    except SpecErrors as exc:
        print("\n".join(map(str, exc.errors)), file=sys.stderr)
        return 1
    if not settings.snapshot.exists():
        print(f"{settings.snapshot}: nothing published yet: datasets answer 503 until a publish")
    scheme = "https" if args.certfile else "http"
    print(f"Data API on {scheme}://{args.host}:{args.port} (docs at /docs)")
    uvicorn.run(app, host=args.host, port=args.port, ssl_certfile=args.certfile,
                ssl_keyfile=args.keyfile, server_header=False, log_level="warning")  # fmt: skip
    return 0


def api_command(settings: Settings, args: argparse.Namespace) -> int:
    from tributary.serve.apps import AppError

    if args.api_command == "keygen":
        from tributary.serve.signing import new_master_key
        from tributary.serve.tokens import new_signing_key

        print(new_master_key() if args.aksk else new_signing_key(), end="\n" if args.aksk else "")
        return 0
    if args.api_command == "diff":
        return _diff(settings, args.against)
    apps = store(settings)
    try:
        if args.app_command == "create":
            secret = apps.create(args.name)
            print(f"app {args.name} created; its secret, shown only now:\n{secret}")
        elif args.app_command == "grant":
            return _grant(settings, apps, args)
        elif args.app_command == "key":
            return _access_key(settings, apps, args.name)
        elif args.app_command == "revoke":
            apps.revoke(args.name)
            print(f"app {args.name} revoked: its next request is refused")
        else:
            for name, created, revoked, grants in apps.listing():
                state = f"revoked {revoked}" if revoked else "active"
                print(f"{name}\tcreated {created}\t{state}\t{grants or 'no grants'}")
    except AppError as exc:
        print(f"tributary api app: {exc}", file=sys.stderr)
        return 1
    return 0


def _grant(settings: Settings, apps, args: argparse.Namespace) -> int:
    api = _api(settings)
    datasets = [d for d in args.datasets.split(",") if d]
    unknown = sorted(set(datasets) - set(api.datasets))
    personal = [k for k in args.personal.split(",") if k]
    kinds = {f.personal for d in datasets if d in api.datasets
             for f in api.datasets[d].fields.values() if f.personal}  # fmt: skip
    if unknown or set(personal) - kinds:
        print(f"tributary api app grant: unknown dataset(s) {', '.join(unknown) or '-'} or "
              f"personal kind(s) {', '.join(sorted(set(personal) - kinds)) or '-'}: datasets "
              f"{', '.join(api.datasets)}; kinds there {', '.join(sorted(kinds)) or 'none'}",
              file=sys.stderr)  # fmt: skip
        return 1
    rows = _row_filter(api, datasets, args.rows)
    if rows is None:
        return 1
    apps.grant(args.name, datasets, personal, args.expires, args.rate, rows)
    print(f"app {args.name} may read {', '.join(datasets)} until {args.expires} at {args.rate}/min")
    return 0


def _diff(settings: Settings, against: str) -> int:
    """Exit 1 when the declarations would break callers of the running API."""
    from tributary.serve.diff import read_spec, spec_changes
    from tributary.serve.openapi import openapi_spec

    try:
        running = read_spec(against)
    except (OSError, ValueError) as exc:
        print(f"tributary api diff: cannot read {against}: {exc}", file=sys.stderr)
        return 1
    breaking, added = spec_changes(running, openapi_spec(_api(settings)))
    for line in breaking:
        print(f"breaking: {line}")
    for line in added:
        print(f"added: {line}")
    if not breaking and not added:
        print(f"no change from {against}")
    return 1 if breaking else 0


def _access_key(settings: Settings, apps, name: str) -> int:
    from tributary.serve.signing import RequestSigning

    if not settings.api_aksk_key:
        print("TRIBUTARY_API_AKSK_KEY is not set: `tributary api keygen --aksk`", file=sys.stderr)
        return 1
    access_key = apps.add_access_key(name)
    secret = RequestSigning(settings.api_aksk_key).secret_for(access_key)
    print(f"app {name}: access key {access_key}; its secret key, shown only now:\n{secret}")
    return 0


def _row_filter(api, datasets: list[str], given: list[str]) -> dict[str, list[str]] | None:
    """``--rows FIELD=V1,V2`` as a grant's row filter, checked against each dataset."""
    from tributary.serve.query import QueryError, row_filters

    rows = {}
    for text in given:
        name, _, values = text.partition("=")
        rows[name] = [v for v in values.split(",") if v]
    for dataset in datasets:
        try:
            row_filters(api.datasets[dataset], rows)
        except (KeyError, QueryError) as exc:
            print(f"tributary api app grant: --rows on {dataset}: {exc}; fields: "
                  f"{', '.join(api.datasets[dataset].fields)}", file=sys.stderr)  # fmt: skip
            return None
    return rows
