"""Paginators for REST sources: dlt's own, with a page cap and, for numbered pages, concurrency.

Each is a subclass of one of dlt's paginators, handed to dlt's ``rest_api`` source as an
instance in the endpoint config: dlt's loop, stop rules (total, ``has_more``, empty page) and
errors are untouched; these only add to them.
"""

import copy
from collections import deque
from concurrent.futures import Future
from typing import Any

from dlt.common import jsonpath
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    HeaderCursorPaginator,
    HeaderLinkPaginator,
    JSONLinkPaginator,
    JSONResponseCursorPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    SinglePagePaginator,
)
from requests import Request, Response

from tributary.ingest.kinds.rest_api.http import RestSession


class PageCapExceeded(RuntimeError):
    """The API has more pages than the resource's ``max_pages``."""


class _Capped:
    """Counts pages and fails, naming the resource, when ``max_pages`` is not enough.

    dlt's own ``maximum_page`` stops silently: a runaway cursor or a filter the API ignores
    would then load a truncated table, or without any cap loop forever.
    """

    def __init__(self, *, resource: str, max_pages: int | None, **dlt_args: Any) -> None:
        super().__init__(**dlt_args)
        self.resource = resource
        self.max_pages = max_pages
        self.pages = 0

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)  # type: ignore[misc]
        self.pages += 1
        if self.max_pages is not None and self.pages >= self.max_pages and self.has_next_page:
            self._exceeded(f"more than max_pages={self.max_pages}")

    def _exceeded(self, how_many: str) -> None:
        raise PageCapExceeded(
            f"resource `{self.resource}` has {how_many} pages: raise `max_pages` in its "
            "paginator if that many are expected, or check that the API's pagination ends"
        )


class _Numbered(_Capped):
    """Page-number and offset pagination: the following pages fetched ``concurrency`` at once.

    Once the first response tells the total, the pages after it are known in advance, so up to
    ``concurrency`` of them are fetched at a time through the source's session (paced and
    retried like any request) and handed to dlt's loop in order. Without a total (``has_more``
    or empty-page APIs) pages are fetched one by one, as dlt does.
    """

    def __init__(self, *, concurrency: int, session: RestSession, **capped_args: Any) -> None:
        super().__init__(**capped_args)
        self.concurrency = concurrency
        self.session = session
        self._todo: deque[int] | None = None  # page values not yet requested
        self._ahead: dict[int, Future[Response]] = {}

    def init_request(self, request: Request) -> None:
        self._forget()
        super().init_request(request)  # type: ignore[misc]

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        if self._todo is None and self.has_next_page:
            following = self._following(response)
            if self.max_pages is not None and self.pages + len(following) > self.max_pages:
                total = self.pages + len(following)
                self._exceeded(f"{total} (the API says), more than max_pages={self.max_pages}")
            self._todo = deque(following if self.concurrency > 1 else ())

    def update_request(self, request: Request) -> None:
        super().update_request(request)  # type: ignore[misc]
        if not self.has_next_page:
            self._forget()
            return
        while self._todo and len(self._ahead) < self.concurrency:
            value = self._todo.popleft()
            self._ahead[value] = self.session.fetch_ahead(self._request_at(request, value))
        page = self._ahead.pop(self.current_value, None)
        if page is not None:
            self.session.hand_over(request, page)

    def _following(self, response: Response) -> list[int]:
        """The page values after the first, when the response tells the total."""
        if self.total_path is None:
            return []
        values = jsonpath.find_values(self.total_path, response.json())
        if not values:
            return []
        end = int(values[0]) + self.base_index
        if self.maximum_value is not None:
            end = min(end, self.maximum_value)
        return list(range(self.current_value, end, self.value_step))

    def _request_at(self, request: Request, value: int) -> Request:
        """The request of the page at ``value``: dlt's request, with its own page value."""
        page = copy.copy(request)
        page.params = dict(request.params or {})
        page.headers = dict(request.headers or {})
        page.json = copy.deepcopy(request.json)
        if self.param_body_path:
            self._update_request_with_body_path(page, self.param_body_path, value)
        else:
            self._update_request_with_param_name(page, self.param_name, value)
        return page

    def _forget(self) -> None:
        """Drop pages fetched ahead that the walk no longer needs (the total shrank)."""
        for page in self._ahead.values():
            page.cancel()
        self._ahead.clear()
        self._todo = None


class PageNumber(_Numbered, PageNumberPaginator):
    """dlt's page-number paginator, capped, fetching concurrently once it knows the total."""


class Offset(_Numbered, OffsetPaginator):
    """dlt's offset/limit paginator, capped, fetching concurrently once it knows the total."""


class Cursor(_Capped, JSONResponseCursorPaginator):
    """dlt's cursor-in-the-body paginator, capped."""


class JSONLink(_Capped, JSONLinkPaginator):
    """dlt's next-URL-in-the-body paginator, capped."""


class HeaderLink(_Capped, HeaderLinkPaginator):
    """dlt's ``Link`` header paginator, capped."""


class HeaderCursor(_Capped, HeaderCursorPaginator):
    """dlt's cursor-in-a-header paginator, capped."""


class SinglePage(_Capped, SinglePagePaginator):
    """dlt's single-page paginator (one page: its cap never bites)."""


# Without a declared cap a runaway cursor still ends, loudly, instead of looping forever.
DEFAULT_MAX_PAGES = 100_000

_CLASSES: dict[str, type[_Capped]] = {
    "page_number": PageNumber,
    "offset": Offset,
    "cursor": Cursor,
    "json_link": JSONLink,
    "header_link": HeaderLink,
    "header_cursor": HeaderCursor,
    "single_page": SinglePage,
}


def build_paginator(
    config: dict[str, Any], resource: str, session: RestSession
) -> BasePaginator | None:
    """The paginator of one resource from its paginator config (None: dlt detects one)."""
    dlt_args = {k: v for k, v in config.items() if k not in {"type", "max_pages", "concurrency"}}
    kind = config["type"]
    if kind == "auto":
        return None
    max_pages = config.get("max_pages") or DEFAULT_MAX_PAGES
    extra: dict[str, Any] = {"resource": resource, "max_pages": max_pages}
    if issubclass(_CLASSES[kind], _Numbered):
        extra |= {"concurrency": config.get("concurrency", 1), "session": session}
    return _CLASSES[kind](**extra, **dlt_args)  # type: ignore[return-value]
