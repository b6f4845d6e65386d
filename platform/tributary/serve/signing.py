"""AK/SK request signing, for server-to-server callers that would rather not fetch tokens.

An app's access key (AK, public) names it; its secret key (SK) is derived from the server's
``TRIBUTARY_API_AKSK_KEY`` and the AK (HMAC-SHA256), so the registry stores no secret at all,
and changing that key retires every SK at once. A request carries::

    X-Tributary-Key: <AK>      X-Tributary-Timestamp: <unix seconds>
    X-Tributary-Nonce: <16+ random characters>
    X-Tributary-Signature: hex HMAC-SHA256(SK, METHOD \\n PATH \\n QUERY \\n TIMESTAMP \\n NONCE)

QUERY is the query string's pairs, percent-encoded and sorted. A timestamp more than five
minutes away, or a nonce seen within that window, is refused: a captured request cannot be
replayed, and nor can it be altered (every part is signed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from urllib.parse import quote

WINDOW_S = 300
HEADERS = ("x-tributary-key", "x-tributary-timestamp", "x-tributary-nonce", "x-tributary-signature")


class SignatureError(Exception):
    """Why a signed request is refused."""


def new_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def canonical(
    method: str, path: str, pairs: list[tuple[str, str]], stamp: str, nonce: str
) -> bytes:
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(pairs))
    return "\n".join([method.upper(), path, query, stamp, nonce]).encode()


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class RequestSigning:
    def __init__(self, master: str, clock=time.time):
        if len(master) < 32:
            raise ValueError(
                "TRIBUTARY_API_AKSK_KEY: at least 32 characters (`tributary api keygen --aksk`)"
            )
        self._master = master.encode()
        self._clock = clock
        self._seen: dict[str, float] = {}  # nonce → when it stops mattering
        self._lock = threading.Lock()

    def secret_for(self, access_key: str) -> str:
        return hmac.new(self._master, access_key.encode(), hashlib.sha256).hexdigest()

    def verify(self, method: str, path: str, pairs: list[tuple[str, str]], headers) -> str:
        """The access key of a correctly signed, fresh, first-seen request, or SignatureError."""
        access_key, stamp, nonce, signature = (headers.get(h, "") for h in HEADERS)
        if not (access_key and stamp and nonce and signature):
            raise SignatureError(f"a signed request needs every header of {', '.join(HEADERS)}")
        if not stamp.isdigit() or abs(self._clock() - int(stamp)) > WINDOW_S:
            raise SignatureError(f"the timestamp is more than {WINDOW_S} s from the server's clock")
        if not 16 <= len(nonce) <= 128:
            raise SignatureError("the nonce must be 16 to 128 characters")
        expected = sign(self.secret_for(access_key), canonical(method, path, pairs, stamp, nonce))
        if not hmac.compare_digest(expected, signature.lower()):
            raise SignatureError("the signature does not match the request")
        now = self._clock()
        with self._lock:
            self._seen = {n: until for n, until in self._seen.items() if until > now}
            if nonce in self._seen:
                raise SignatureError("this nonce was used already: a replay")
            self._seen[nonce] = now + 2 * WINDOW_S
        return access_key
