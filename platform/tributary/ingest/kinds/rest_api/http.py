"""The HTTP session of one REST source, handed to dlt as ``client.session``.

One session per source carries what must be shared by all its resources and threads: the
pace (``requests_per_second``), the retries, the thread pool that fetches pages ahead, and the
secrets to keep out of every error and log line.
"""

import copy
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, quote_plus
from weakref import WeakKeyDictionary

from dlt.sources.helpers.requests import Session
from dlt.sources.helpers.requests.retry import (
    DEFAULT_RETRY_EXCEPTIONS,
    DEFAULT_RETRY_STATUS,
    retry_if_status,
    wait_exponential_retry_after,
)
from requests import PreparedRequest, Request, RequestException, Response
from requests.adapters import HTTPAdapter
from tenacity import Retrying, retry_any, retry_if_exception_type, stop_after_attempt

MAX_RETRY_DELAY_S = 300  # dlt's default cap on a backoff or a Retry-After


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret, plain or URL-encoded, replaced by ``***``."""
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, "***")
    return text


REDACTED_LOGGERS = ("dlt", "urllib3.connectionpool")


class _LogRedaction(logging.Filter):
    """Takes known secrets out of dlt's log lines.

    dlt masks the usual query parameters (``api_key``, ``token``…) in the URLs it logs, but an
    API whose key travels as, say, ``?auth_code=`` would be logged in clear; and urllib3 logs
    every URL it requests at DEBUG level, query string and all (found by the chaos secrets
    grep, ``tests/chaos``). A logger's filters see only its own records: each is named.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def watch(self, secrets: Iterable[str]) -> None:
        self.secrets.update(secrets)
        for name in REDACTED_LOGGERS:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


LOG_REDACTION = _LogRedaction()


class _Pace:
    """Spaces request starts ``1 / per_second`` apart across all threads: no bursts."""

    def __init__(self, per_second: float) -> None:
        self._gap = 1.0 / per_second
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._gap
        if start > now:
            time.sleep(start - now)


def _retrying(retries: int, backoff_s: float) -> Retrying:
    """dlt's retry rules (429, 5xx, timeouts, dropped connections; ``Retry-After`` first),
    with the source's own count and backoff."""
    return Retrying(
        retry=retry_any(
            retry_if_status(DEFAULT_RETRY_STATUS),
            retry_if_exception_type(DEFAULT_RETRY_EXCEPTIONS),
        ),
        wait=wait_exponential_retry_after(multiplier=backoff_s, max=MAX_RETRY_DELAY_S),
        stop=stop_after_attempt(retries + 1),
        reraise=True,
        retry_error_callback=lambda state: state.outcome.result(),
    )


class RestSession(Session):
    """Paced, retried sends; pages fetched ahead and handed over; secrets redacted.

    Pages fetched ahead: a paginator calls ``fetch_ahead`` with a copy of the request for a
    later page, then ``hand_over`` when dlt's loop is about to send that page itself; the loop's
    send is then answered with the response already fetched. dlt's loop, its hooks and its
    error handling stay as they are.
    """

    def __init__(
        self,
        *,
        timeout_s: float,
        retries: int,
        backoff_s: float,
        requests_per_second: float | None,
        workers: int,
        secrets: Iterable[str],
    ) -> None:
        super().__init__(timeout=timeout_s, raise_for_status=False)
        adapter = HTTPAdapter(pool_maxsize=max(10, workers + 2))
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self._pace = _Pace(requests_per_second) if requests_per_second else None
        self._send_with_retries = _retrying(retries, backoff_s).wraps(self._send_paced)
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._handed: WeakKeyDictionary[Request, Future[Response]] = WeakKeyDictionary()
        self._ready: WeakKeyDictionary[PreparedRequest, Future[Response]] = WeakKeyDictionary()
        # Resolved secrets only: at definition time they are still ${VARS}.
        resolved = {s for s in secrets if len(s) >= 4 and "${" not in s}
        self._secrets = sorted(resolved, key=len, reverse=True)  # a longer one may hold another
        LOG_REDACTION.watch(self._secrets)

    def __deepcopy__(self, memo: dict[int, Any]) -> "RestSession":
        # dlt deep-copies configs (to validate them, and a paginator per parent record): a
        # copy would split the source's pace and pool, so every copy is this session.
        return self

    def fetch_ahead(self, request: Request) -> "Future[Response]":
        """Start fetching a page that dlt's loop will ask for later."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="rest-ahead")
        return self._pool.submit(self._fetch, request)

    def hand_over(self, request: Request, page: "Future[Response]") -> None:
        """Answer the next send of ``request`` with ``page`` instead of sending it."""
        with self._lock:
            self._handed[request] = page

    def prepare_request(self, request: Request) -> PreparedRequest:
        prepared = super().prepare_request(request)
        with self._lock:
            page = self._handed.pop(request, None)
            if page is not None:
                self._ready[prepared] = page
        return prepared

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        with self._lock:
            page = self._ready.pop(request, None)
        if page is not None:
            return page.result()
        try:
            return self._send_with_retries(request, **kwargs)
        except RequestException as error:
            problem = self._redacted(error)
        raise problem  # outside the handler: the unredacted original is not chained

    def _fetch(self, request: Request) -> Response:
        prepared = self.prepare_request(request)
        settings = self.merge_environment_settings(prepared.url, {}, None, None, None)
        return self.send(prepared, **settings)

    def _send_paced(self, request: PreparedRequest, **kwargs: Any) -> Response:
        if self._pace is not None:
            self._pace.wait()
        return super().send(request, **kwargs)

    def _redacted(self, error: RequestException) -> RequestException:
        text = str(error)
        clean = redact(text, self._secrets)
        if clean == text:
            return error
        redacted = copy.copy(error)  # same type, response and request; new message
        redacted.args = (clean,)
        return redacted
