"""An HTTP proxy on loopback that breaks a quarter of the requests it forwards.

Of every 20 requests, in a fixed pattern (so every fault happens in any run of 20 requests or
more): two answer 503 (10%), one 429 with ``Retry-After: 1``, one has its connection reset
(RST, no reply), one stalls longer than the client's timeout; the others are forwarded to the
API and get its answer. ``injected`` counts what it did.
"""

import socket
import struct
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class FaultProxy:
    PATTERN = {2: "503", 5: "429", 8: "reset", 12: "503", 15: "stall"}  # of every 20

    def __init__(self, upstream: str, *, stall_s: float = 2.0):
        self.upstream = upstream
        self.stall_s = stall_s
        self.seen = 0
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._http = _Server(("127.0.0.1", 0), _Handler)
        self._http.proxy = self  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def fault(self) -> str | None:
        with self._lock:
            fault = self.PATTERN.get(self.seen % 20)
            self.seen += 1
            self.injected[fault or "forwarded"] += 1
            return fault

    def __enter__(self) -> Self:
        threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._http.shutdown()
        self._http.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: a client that timed out and hung up is the point."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        fault = proxy.fault()
        if fault == "reset":
            linger = struct.pack("ii", 1, 0)  # close with RST, not FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.close_connection = True
            return
        if fault == "stall":
            time.sleep(proxy.stall_s)
        if fault in ("503", "429"):
            headers = {"Retry-After": "1"} if fault == "429" else {}
            return self._send(int(fault), b'{"error": "injected"}', headers)
        with urllib.request.urlopen(proxy.upstream + self.path, timeout=10) as answer:
            self._send(answer.status, answer.read(), {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        """Silent."""
