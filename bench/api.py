"""Data API benchmark: Tributary's API beside Datasette serving the same rows.

    make bench-api              # never part of `make test`; ROWS=20000 SECONDS=5 by default

Both serve `fct_orders` of one generated snapshot: ours over the DuckDB snapshot with
authentication, masking, rate limits and audit on; Datasette over an SQLite copy (its usual
use), indexed like ours is sorted, with its row count and facet suggestions off
(``_nocount``, ``_nofacet``: how one tunes it for an API). For 1 and 16 concurrent clients
(threads, one keep-alive session each) and SECONDS each: paging (100 rows a page, following
`next`) and a filtered query. Then a handful of attacks on ours, each of which must be refused.
Ends with one line: ``api: rps_ratio=<ours ÷ Datasette, 16 clients, paging>
p99_ms=<ours, filtered, 16 clients> attacks=<rejected>/<tried>``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' snapshot generator: the same rows the suite pages
from tests.integration.api_server import ROWS, free_port, publish  # noqa: E402

from tributary.serve.cli import store  # noqa: E402
from tributary.serve.tokens import new_signing_key  # noqa: E402
from tributary.settings import Settings  # noqa: E402


def _sqlite_value(value: object) -> object:
    if value is None or isinstance(value, int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)  # compared as a number, as DuckDB does
    return str(value)  # dates: ISO text, ordered as dates


def sqlite_copy(snapshot: Path, target: Path) -> None:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        result = con.execute("select * from marts.fct_orders")
        columns = [d[0] for d in result.description]
        rows = [tuple(_sqlite_value(v) for v in row) for row in result.fetchall()]
    with sqlite3.connect(target) as lite:
        lite.execute(f"create table fct_orders ({', '.join(columns)}, primary key (order_id))")
        lite.executemany(f"insert into fct_orders values ({', '.join('?' * len(columns))})", rows)
        lite.execute("create index fct_orders_status on fct_orders (status, amount_base)")


def wait_for(url: str) -> None:
    for _ in range(300):
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers on {url}")


def load(first_url: str, next_of, headers: dict, clients: int, seconds: float):
    """Requests per second and latencies (ms) of ``clients`` threads for ``seconds``."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client():
        mine = []
        with requests.Session() as session:
            session.headers.update(headers)
            url = first_url
            while time.perf_counter() < stop:
                start = time.perf_counter()
                response = session.get(url, timeout=30)
                mine.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{url}: {response.status_code} {response.text[:200]}")
                url = next_of(response.json()) or first_url
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return (
        len(latencies) / seconds,
        latencies[len(latencies) // 2],
        latencies[int(len(latencies) * 0.99)],
    )


def attacks(url: str, bearer: str) -> tuple[int, int]:
    tried = [
        ({}, {}),
        ({"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJiZW5jaCJ9."}, {}),
        ({"Authorization": f"Bearer {bearer}x"}, {}),
        ({"Authorization": f"Bearer {bearer}"}, {"sort": "order_date; drop table x"}),
        ({"Authorization": f"Bearer {bearer}"}, {"fields": 'order_id,"status"'}),
        ({"Authorization": f"Bearer {bearer}"}, {"amount_base[gte]": "0 or 1=1"}),
        ({"Authorization": f"Bearer {bearer}"}, {"limit": "100000"}),
    ]
    statuses = [requests.get(f"{url}/v1/orders", headers=h, params=p, timeout=10).status_code
                for h, p in tried]  # fmt: skip
    return sum(400 <= s < 500 for s in statuses), len(tried)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="rows of fct_orders")
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario")
    args = parser.parse_args()
    ROWS["fct_orders"] = args.rows
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    env = {"TRIBUTARY_DATA_DIR": str(work / "data"), "TRIBUTARY_API_SIGNING_KEY": new_signing_key()}
    settings = Settings.from_env(env)
    publish(settings)
    sqlite_copy(settings.snapshot, work / "orders.db")
    secret = store(settings).create("bench")
    store(settings).grant("bench", ["orders"], [], date(2099, 1, 1), 10**9)
    ours_port, theirs_port = free_port(), free_port()
    servers = [
        subprocess.Popen([sys.executable, "-m", "tributary.cli", "serve", "--port", str(ours_port)],
                         env={**os.environ, **env}),
        subprocess.Popen([str(Path(sys.executable).with_name("datasette")), "serve",
                          str(work / "orders.db"), "--port", str(theirs_port),
                          "--setting", "max_returned_rows", "1000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]  # fmt: skip
    try:
        ours, theirs = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{theirs_port}"
        wait_for(f"{ours}/openapi.json")
        wait_for(f"{theirs}/-/versions.json")
        form = {"grant_type": "client_credentials", "client_id": "bench", "client_secret": secret}
        bearer = requests.post(f"{ours}/oauth/token", data=form, timeout=10).json()["access_token"]
        auth = {"Authorization": f"Bearer {bearer}"}
        scenarios = {
            ("ours", "paging"): (f"{ours}/v1/orders?limit=100", lambda b: b["next"], auth),
            ("datasette", "paging"): (f"{theirs}/orders/fct_orders.json?_size=100&_shape=objects"
                                      "&_nocount=1&_nofacet=1", lambda b: b.get("next_url"), {}),
            ("ours", "filtered"): (f"{ours}/v1/orders?status=status-3&amount_base[gte]=100"
                                   "&limit=100", lambda b: None, auth),
            ("datasette", "filtered"): (f"{theirs}/orders/fct_orders.json?status=status-3"
                                        "&amount_base__gte=100&_size=100&_shape=objects&_nocount=1"
                                        "&_nofacet=1",
                                        lambda b: None, {}),
        }  # fmt: skip
        results = {}
        print(f"fct_orders: {args.rows} rows; {args.seconds:g} s per scenario")
        print(f"{'server':10} {'query':9} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for clients in (1, 16):
            for (server, query), (url, next_of, headers) in scenarios.items():
                rps, p50, p99 = load(url, next_of, headers, clients, args.seconds)
                results[server, query, clients] = (rps, p99)
                print(f"{server:10} {query:9} {clients:7} {rps:8.0f} {p50:8.1f} {p99:8.1f}")
        rejected, tried = attacks(ours, bearer)
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
    ratio = results["ours", "paging", 16][0] / results["datasette", "paging", 16][0]
    p99 = results["ours", "filtered", 16][1]
    print(f"api: rps_ratio={ratio:.2f} p99_ms={p99:.1f} attacks={rejected}/{tried}")
    return 0 if rejected == tried else 1


if __name__ == "__main__":
    raise SystemExit(main())
