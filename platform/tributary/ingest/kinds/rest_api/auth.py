"""Authentication for REST sources: dlt's own classes, plus HMAC signing and OAuth2 refresh.

Both additions are dlt auth classes (``AuthConfigBase``), handed to dlt's ``rest_api`` source
as instances in its config, so dlt applies them like its own.

HMAC signing (``type: hmac``), per request:

- ``X-Access-Key``: the access key;
- ``X-Timestamp``: the current Unix time in whole seconds;
- ``X-Signature``: the lower-case hex HMAC (default SHA-256, keyed with the secret key, UTF-8)
  of ``METHOD\\nPATH\\nQUERY\\nTIMESTAMP``, where METHOD is upper case, PATH is the URL path as
  sent (percent-encoded, ``/`` when empty) and QUERY is the query string as sent, split on
  ``&``, its ``name=value`` pairs sorted (byte order) and joined with ``&`` (empty when none).

``algorithm`` (any ``hashlib`` name) and the three header names are configurable.
"""

import hmac
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.pendulum import pendulum
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.rest_client.auth import (
    APIKeyAuth,
    AuthConfigBase,
    BearerTokenAuth,
    HttpBasicAuth,
    OAuth2ClientCredentials,
)
from requests import PreparedRequest, Response, Session

# One lock for every token: fetches are rare, and a lock held by an instance would make it
# impossible to deep-copy, which dlt does to every config it validates.
_TOKEN_LOCK = threading.Lock()


def hmac_signature(
    secret_key: str, method: str, url: str, timestamp: str, algorithm: str = "sha256"
) -> str:
    """The signature of one request, as described in the module docstring."""
    parts = urlsplit(url)
    query = "&".join(sorted(pair for pair in parts.query.split("&") if pair))
    message = "\n".join([method.upper(), parts.path or "/", query, timestamp])
    return hmac.new(secret_key.encode(), message.encode(), algorithm).hexdigest()


@configspec
class HmacAuth(AuthConfigBase):
    """Signs each request with an access key and a secret key (see the module docstring)."""

    access_key: str = None
    secret_key: TSecretStrValue = None
    algorithm: str = "sha256"
    access_key_header: str = "X-Access-Key"
    timestamp_header: str = "X-Timestamp"
    signature_header: str = "X-Signature"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        timestamp = str(int(time.time()))
        request.headers[self.access_key_header] = self.access_key
        request.headers[self.timestamp_header] = timestamp
        request.headers[self.signature_header] = hmac_signature(
            self.secret_key, request.method or "GET", request.url or "", timestamp, self.algorithm
        )
        return request


@configspec
class RefreshingOAuth2(OAuth2ClientCredentials):
    """OAuth2 client credentials whose token is shared, renewed early and renewed on a 401.

    dlt's class asks for a token only once the old one has expired, so a request sent just
    before expiry can arrive just after it. This one renews ``refresh_margin`` seconds early
    (at most half the token's lifetime, so short-lived tokens still get used), and when the
    API answers 401 anyway (a token revoked early) it fetches a new token once and retries
    the request once; a second 401 is a real error.
    """

    refresh_margin: float = 30.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.refresh_at = pendulum.now()

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        with _TOKEN_LOCK:
            if self.access_token is None or pendulum.now() >= self.refresh_at:
                self.obtain_token()
            request.headers["Authorization"] = f"Bearer {self.access_token}"
        # Ahead of dlt's raise-for-status hook, which would turn the 401 into an error first.
        request.hooks["response"].insert(0, self._retry_on_401)
        return request

    def obtain_token(self) -> None:
        super().obtain_token()
        lifetime = (self.token_expiry - pendulum.now()).total_seconds()
        self.refresh_at = self.token_expiry.subtract(seconds=min(self.refresh_margin, lifetime / 2))

    def _retry_on_401(self, response: Response, **send_kwargs: Any) -> Response | None:
        if response.status_code != 401:
            return None
        sent = response.request.headers.get("Authorization")
        with _TOKEN_LOCK:
            if sent == f"Bearer {self.access_token}":  # not yet renewed by another request
                self.obtain_token()
            token = self.access_token
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {token}"
        retry.hooks = {"response": [h for h in retry.hooks["response"] if h != self._retry_on_401]}
        response.close()
        return self.session.send(retry, **send_kwargs)


_CLASSES: dict[str, type[AuthConfigBase]] = {
    "bearer": BearerTokenAuth,
    "api_key": APIKeyAuth,
    "http_basic": HttpBasicAuth,
    "oauth2_client_credentials": RefreshingOAuth2,
    "hmac": HmacAuth,
}


def build_auth(config: dict[str, Any], session: Session) -> AuthConfigBase | None:
    """The auth object for an ``auth`` config (``type: none``: None, no auth at all).

    Token requests go through the source's session: paced and retried like the rest.
    """
    if config["type"] == "none":
        return None
    values = {key: value for key, value in config.items() if key != "type"}
    kind = _CLASSES[config["type"]]
    if kind is RefreshingOAuth2:
        values["session"] = session
    return resolve_configuration(kind.from_init_value(values), accept_partial=False)
